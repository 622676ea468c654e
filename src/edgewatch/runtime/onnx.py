"""ONNX Runtime backend: autoencoders (FP32 or QDQ INT8) and the isolation forest.

Autoencoder models output a reconstruction; the isolation-forest model outputs the anomaly score itself
(higher = more anomalous: the export negated scikit-learn's score once, :mod:`edgewatch.train.iforest`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.errors import RuntimeBackendError
from edgewatch.runtime.base import ScoreBatch
from edgewatch.runtime.scoring import Scoring, deviation_errors


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise RuntimeBackendError(
            "ONNX Runtime is not installed; install it with: pip install 'edgewatch[edge]' "
            "(onnxruntime), or choose --runtime litert"
        ) from None
    return onnxruntime


class OnnxBackend:
    """Scores an ONNX model of a bundle. Higher score = more anomalous."""

    name = "onnx"

    def __init__(
        self,
        model_path: Path,
        *,
        artifact: str,
        window: int,
        n_features: int,
        output: str = "reconstruction",
        threads: int = 1,
        scoring: Scoring | None = None,
    ):
        if output not in ("reconstruction", "score"):
            raise RuntimeBackendError(f"unknown ONNX model output kind {output!r}")
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Exact INT8 products on x86 CPUs without VNNI (AVX2, AVX-512F): there ONNX Runtime's fast u8×s8
        # kernels add pairs of products in saturating 16-bit registers, which changed QDQ dense-aes'
        # reconstruction-error rank correlation with FP32 from about 0.99 to 0.30-0.98 on an AVX2 machine
        # (docs/quantization.md). This option makes them exact; other CPUs (VNNI, ARM) are exact already.
        options.add_session_config_entry("session.x64quantprecision", "1")
        try:
            model = Path(model_path).read_bytes()
            self._session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except OSError as exc:
            raise RuntimeBackendError(f"{model_path}: cannot read model ({exc})") from None
        except Exception as exc:  # onnxruntime raises its own exception types
            raise RuntimeBackendError(f"{model_path}: ONNX Runtime cannot load the model ({exc})") from None
        self.artifact = artifact
        self._scoring = scoring or Scoring()
        self.window = window
        self.n_features = n_features
        self._output_kind = output
        self._input_name = self._session.get_inputs()[0].name
        self._output_name = self._session.get_outputs()[0].name
        self._shape = (window, n_features) if window > 1 else (n_features,)
        self.score_batch(np.zeros((1, window, n_features), dtype=np.float32))  # warm-up

    def _run(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape((x.shape[0], *self._shape))
        return self._session.run([self._output_name], {self._input_name: flat})[0]

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = self._run(x)
        if self._output_kind == "score":
            return ScoreBatch(scores=out.reshape(-1).astype(np.float64), feature_errors=deviation_errors(x))
        return self._scoring.score(x, out.reshape(x.shape).astype(np.float32))
