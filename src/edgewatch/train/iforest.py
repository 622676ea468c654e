"""Isolation forest (scikit-learn) and its ONNX export.

The one place where scikit-learn's convention (higher = more normal) is turned around: the exported ONNX
graph outputs ``-decision_function(x)``, so its score is higher for more anomalous rows and positive where
scikit-learn would call the row an outlier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgewatch.errors import MissingExtraError


def fit_iforest(train: np.ndarray, *, seed: int, n_estimators: int = 100, max_samples: int = 256) -> Any:
    try:
        from sklearn.ensemble import IsolationForest
    except ModuleNotFoundError:
        raise MissingExtraError("scikit-learn", "train") from None
    model = IsolationForest(
        n_estimators=n_estimators, max_samples=min(max_samples, len(train)), random_state=seed, n_jobs=1
    )
    return model.fit(train.astype(np.float32))


def iforest_to_onnx(model: Any, n_features: int) -> bytes:
    """ONNX graph ``input (n, F) float32 → score (n, 1) float32`` with score = -decision_function."""
    try:
        import onnx
        from onnx import helper
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ModuleNotFoundError:
        raise MissingExtraError("skl2onnx", "train") from None
    proto = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    graph = proto.graph
    scores_output = next(o for o in graph.output if o.name == "scores")
    graph.node.append(
        helper.make_node("Neg", [scores_output.name], ["score"], name="negate_to_anomaly_score")
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, [None, 1]))
    proto.producer_version = ""
    onnx.checker.check_model(proto)
    return proto.SerializeToString()
