"""ONNX Runtime backend: autoencoders (FP32 or QDQ INT8) and the isolation forest.

Autoencoder models output a reconstruction; the isolation-forest model outputs the anomaly score itself
(higher = more anomalous: the export negated scikit-learn's score once, :mod:`edgewatch.train.iforest`).
:mod:`edgewatch.runtime.scoring` turns either into scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.errors import RuntimeBackendError


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise RuntimeBackendError(
            "ONNX Runtime is not installed; install it with: pip install 'edgewatch[onnx]' "
            "(onnxruntime), or choose --runtime litert"
        ) from None
    return onnxruntime


class OnnxModel:
    """An ONNX model on ONNX Runtime; ``run`` gives its one output (a reconstruction, or the score)."""

    def __init__(self, model_path: Path, *, window: int, n_features: int, threads: int = 1) -> None:
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Exact INT8 products on x86 CPUs without VNNI (AVX2, AVX-512F): there ONNX Runtime's fast u8×s8
        # kernels add pairs of products in saturating 16-bit registers, which reorders a QDQ model's
        # reconstruction errors against FP32 (docs/quantization.md). This option makes them exact; other
        # CPUs (VNNI, ARM) are exact already.
        options.add_session_config_entry("session.x64quantprecision", "1")
        try:
            model = Path(model_path).read_bytes()
            self._session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except OSError as exc:
            raise RuntimeBackendError(f"{model_path}: cannot read model ({exc})") from None
        except Exception as exc:  # onnxruntime raises its own exception types
            raise RuntimeBackendError(f"{model_path}: ONNX Runtime cannot load the model ({exc})") from None
        self._input_name = self._session.get_inputs()[0].name
        self._output_name = self._session.get_outputs()[0].name
        self._shape = (window, n_features) if window > 1 else (n_features,)
        self.run(np.zeros((1, window, n_features), dtype=np.float32))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model's output for scaled float32 inputs ``x`` (n, window, F)."""
        flat = x.reshape((x.shape[0], *self._shape))
        out: np.ndarray = self._session.run([self._output_name], {self._input_name: flat})[0]
        return out
