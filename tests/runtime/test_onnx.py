"""ONNX Runtime's INT8 matrix products must be exact on every CPU, not only on those with VNNI.

On x86 CPUs without VNNI (AVX2, AVX-512F), ONNX Runtime's fast u8×s8 kernels add pairs of products in
16-bit registers that saturate when an activation near 255 meets a weight near ±127, so a QDQ model can
give wildly different results there than on the machine that built and gated it (or on an ARM device).
The ONNX backend turns on ``session.x64quantprecision``, under which ONNX Runtime computes those products
without saturating; on other CPUs it changes nothing. This test builds the worst case by hand: every
quantized input at +127 times every weight at +127.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgewatch.runtime.onnx import OnnxModel  # noqa: E402

N_FEATURES = 64


def saturating_qdq_model(path: Path) -> None:
    """x (n, 64) → int8 QDQ (scale 1/127) → MatMul with int8 weights all +127 (scale 1/127) → (n, 64).

    In real numbers every output is the sum of the inputs: 64 for an all-ones input."""
    scale = np.array(1 / 127, dtype=np.float32)
    zero = np.array(0, dtype=np.int8)
    initializers = [
        numpy_helper.from_array(scale, "x_scale"),
        numpy_helper.from_array(zero, "x_zero"),
        numpy_helper.from_array(np.full((N_FEATURES, N_FEATURES), 127, dtype=np.int8), "w_q"),
        numpy_helper.from_array(scale, "w_scale"),
        numpy_helper.from_array(zero, "w_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"]),
        helper.make_node("MatMul", ["x_dq", "w_dq"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "saturation",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", N_FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", N_FEATURES])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_int8_products_do_not_saturate_on_any_cpu(tmp_path: Path) -> None:
    model = tmp_path / "model.int8.onnx"
    saturating_qdq_model(model)
    runner = OnnxModel(model, window=1, n_features=N_FEATURES)
    reconstruction = runner.run(np.ones((2, 1, N_FEATURES), dtype=np.float32))
    # 64 everywhere; a saturated kernel (seen on an AVX2 machine without the session option) gives about 0.5
    np.testing.assert_allclose(reconstruction, np.full((2, N_FEATURES), 64.0), rtol=1e-3)
