"""Keras → TFLite: FP32 and full-integer INT8 (int8 weights, activations, input and output).

Keras 3 breaks ``TFLiteConverter.from_keras_model``, so the model is exported as a SavedModel
(``model.export``) and converted from there. INT8 needs a representative dataset of *scaled* normal rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from edgewatch.bundle import IOQuantization, TensorQuantization
from edgewatch.export.keras_env import import_tf


def _saved_model(model: Any, directory: str) -> None:
    model.export(directory, verbose=False)


def to_tflite(model: Any, *, representative: np.ndarray | None) -> bytes:
    """Convert ``model``: FP32 when ``representative`` is None, else full-integer INT8 calibrated on
    ``representative`` (scaled rows or windows, shape ``(m, *input_shape)``)."""
    tf, _ = import_tf()
    with tempfile.TemporaryDirectory(prefix="edgewatch-savedmodel-") as directory:
        _saved_model(model, directory)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        if representative is not None:
            rows = np.asarray(representative, dtype=np.float32)

            def dataset() -> Iterator[list[np.ndarray]]:
                for row in rows:
                    yield [row[None, ...]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return bytes(converter.convert())


def io_quantization(model_bytes: bytes) -> IOQuantization:
    """Input/output dtype and (scale, zero point) of a TFLite model, for the manifest."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    tensors = []
    for details in (interpreter.get_input_details()[0], interpreter.get_output_details()[0]):
        scale, zero = details["quantization"]
        tensors.append(TensorQuantization(np.dtype(details["dtype"]).name, float(scale), int(zero)))
    return IOQuantization(input=tensors[0], output=tensors[1])
