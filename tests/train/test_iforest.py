"""The isolation forest's sign: scikit-learn's score is negated exactly once, in the exported ONNX graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from edgewatch.train.iforest import fit_iforest, iforest_to_onnx


def test_onnx_score_is_decision_function_negated_once() -> None:
    rows = np.random.default_rng(0).standard_normal((500, 4)).astype(np.float32)
    model = fit_iforest(rows, seed=0, n_estimators=20)
    session = ort.InferenceSession(iforest_to_onnx(model, 4), providers=["CPUExecutionProvider"])
    score = session.run(None, {"input": rows})[0].reshape(-1)
    np.testing.assert_allclose(score, -model.decision_function(rows), atol=1e-6)
    outlier = session.run(None, {"input": np.full((1, 4), 8.0, dtype=np.float32)})[0].item()
    assert outlier > 0 > np.median(score)  # higher = more anomalous; positive where scikit-learn says outlier
