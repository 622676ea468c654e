"""Importing TensorFlow/Keras quietly and deterministically (training side only)."""

from __future__ import annotations

import os
from types import ModuleType

from edgewatch.errors import MissingExtraError


def import_tf() -> tuple[ModuleType, ModuleType]:
    """Return ``(tensorflow, keras)`` with TensorFlow's start-up chatter silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-reproducible results across runs
    try:
        import keras
        import tensorflow as tf
    except ModuleNotFoundError:
        raise MissingExtraError("tensorflow", "train") from None
    tf.get_logger().setLevel("ERROR")
    return tf, keras


def seed_everything(seed: int) -> None:
    """Make Keras weight initialisation, shuffling and TensorFlow ops deterministic for ``seed``."""
    tf, keras = import_tf()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
