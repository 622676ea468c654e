"""Keras → ONNX (FP32 via tf2onnx) and ONNX Runtime static INT8 quantization (QDQ, S8S8)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from edgewatch.errors import MissingExtraError
from edgewatch.export.keras_env import import_tf

OPSET = 17


def keras_to_onnx(model: Any, input_shape: tuple[int, ...]) -> bytes:
    """FP32 ONNX with a dynamic batch dimension; input ``input``, output ``reconstruction``."""
    tf, _ = import_tf()
    try:
        import tf2onnx
    except ModuleNotFoundError:
        raise MissingExtraError("tf2onnx", "train") from None
    spec = (tf.TensorSpec((None, *input_shape), tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def forward(x: Any) -> Any:
        return tf.identity(model(x, training=False), name="reconstruction")

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    _make_reproducible(proto)
    return proto.SerializeToString()


def _make_reproducible(proto: Any) -> None:
    """tf2onnx numbers unknown dimensions with a process-wide counter (``unk__7``); name them ``batch`` so
    the same model gives the same bytes in every process."""
    proto.producer_version = ""
    graph = proto.graph
    graph.doc_string = ""  # holds the traced function's process-unique name
    for info in [*graph.input, *graph.output, *graph.value_info]:
        for dim in info.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = "batch"


def quantize_onnx_int8(
    fp32_model: bytes, representative: np.ndarray, *, pre_process: bool = True, per_channel: bool = True
) -> bytes:
    """Static INT8 quantization (QDQ format, int8 activations and weights, MinMax calibration) calibrated on
    ``representative`` scaled rows. The defaults are the shipped choices; the switches exist so the
    quantization benchmark can measure them (docs/quantization.md)."""
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ModuleNotFoundError:
        raise MissingExtraError("onnxruntime", "onnx") from None
    import onnx

    rows = np.asarray(representative, dtype=np.float32)
    input_name = onnx.load_from_string(fp32_model).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._iter = iter(rows)

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self._iter, None)
            return None if row is None else {input_name: row[None, ...]}

    with tempfile.TemporaryDirectory(prefix="edgewatch-onnxq-") as directory:
        source = os.path.join(directory, "fp32.onnx")
        target = os.path.join(directory, "int8.onnx")
        prepared = os.path.join(directory, "prepared.onnx")
        with open(source, "wb") as handle:
            handle.write(fp32_model)
        # Fuses MatMul+Add(+Relu) before quantizing, so activations are quantized after the ReLU (the
        # non-negative range gets all 256 levels) — measurably closer to FP32 (docs/quantization.md).
        if pre_process:
            quant_pre_process(source, prepared, skip_symbolic_shape=True)
        quantize_static(
            prepared if pre_process else source,
            target,
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            calibrate_method=CalibrationMethod.MinMax,
        )
        with open(target, "rb") as result:
            return result.read()
