"""Keras autoencoders: a dense one over single readings and a 1-D convolutional one over windows.

Both are *denoising* autoencoders: Gaussian noise (in scaled units) is added to the input during training
only. With 8-16 features a 64-32-64 autoencoder has no real bottleneck and can learn something close to the
identity; its reconstruction error on normal data is then tiny and INT8 rounding noise swamps it. Input
noise stops the identity solution, gives the error a normal level well above INT8 rounding, and keeps the
float and INT8 models' scores in the same order (see docs/quantization.md for the measurements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgewatch.export.keras_env import import_tf


def build_dense_ae(
    n_features: int, layers: Sequence[int] = (64, 32, 64), *, noise: float = 0.4, hidden_noise: float = 0.15
) -> Any:
    """N → layers… → N with ReLU hidden layers and a linear output.

    During training only: Gaussian ``noise`` on the input (denoising) and ``hidden_noise`` after every hidden
    layer, which stands in for INT8 rounding of activations so the later layers learn not to amplify it.
    """
    _, keras = import_tf()
    inputs = keras.Input(shape=(n_features,), name="reading")
    hidden = keras.layers.GaussianNoise(noise, name="train_noise")(inputs) if noise > 0 else inputs
    for i, width in enumerate(layers):
        hidden = keras.layers.Dense(int(width), activation="relu", name=f"dense_{i}")(hidden)
        if hidden_noise > 0:
            hidden = keras.layers.GaussianNoise(hidden_noise, name=f"quant_noise_{i}")(hidden)
    outputs = keras.layers.Dense(n_features, name="reconstruction")(hidden)
    return keras.Model(inputs, outputs, name="dense_ae")


def build_conv_ae(
    n_features: int, window: int, filters: Sequence[int] = (32, 16), *, noise: float = 0.2
) -> Any:
    """1-D convolutional autoencoder over windows of ``window`` readings (``window`` divisible by 4).

    Two strided convolutions down, two transposed convolutions up, a linear convolution to ``n_features``.
    """
    _, keras = import_tf()
    downsample = 2 ** len(filters)
    if window % downsample:
        raise ValueError(f"window must be a multiple of {downsample}, got {window}")
    inputs = keras.Input(shape=(window, n_features), name="window")
    hidden = keras.layers.GaussianNoise(noise, name="train_noise")(inputs) if noise > 0 else inputs
    for i, f in enumerate(filters):
        hidden = keras.layers.Conv1D(
            int(f), 3, strides=2, padding="same", activation="relu", name=f"down_{i}"
        )(hidden)
    for i, f in enumerate(reversed(filters)):
        hidden = keras.layers.Conv1DTranspose(
            int(f), 3, strides=2, padding="same", activation="relu", name=f"up_{i}"
        )(hidden)
    outputs = keras.layers.Conv1D(n_features, 3, padding="same", name="reconstruction")(hidden)
    return keras.Model(inputs, outputs, name="conv_ae")
