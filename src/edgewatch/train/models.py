"""The model files of a bundle: each model kind trained and exported to the formats the edge runtimes load.

An autoencoder (dense over single readings, or convolutional over windows) becomes FP32 and full-integer
INT8 TFLite, FP32 and INT8 ONNX; the isolation forest becomes one float ONNX model whose output is the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from edgewatch.bundle import FitSummary, IOQuantization, ModelParams

if TYPE_CHECKING:
    from edgewatch.train.builder import TrainOptions


class ArtifactSpec(NamedTuple):
    """A model file before calibration: what the manifest's :class:`~edgewatch.bundle.Artifact` starts from."""

    name: str
    file: str
    runtime: str
    precision: str
    output: str
    io: IOQuantization | None = None


@dataclass(frozen=True)
class ModelFiles:
    """The trained model's files and what the manifest records about them and about the training."""

    files: dict[str, bytes]
    artifacts: tuple[ArtifactSpec, ...]
    params: ModelParams
    fit: FitSummary | None = None
    parameters: int | None = None
    iforest_offset: float | None = None


def build_autoencoder(
    train_inputs: np.ndarray, val_inputs: np.ndarray, representative: np.ndarray, options: TrainOptions, window: int
) -> ModelFiles:
    """Train the dense (window 1) or convolutional autoencoder and export it four ways; INT8 is calibrated on
    the ``representative`` scaled inputs."""
    from edgewatch.export.keras_env import seed_everything
    from edgewatch.export.onnx import keras_to_onnx, quantize_onnx_int8
    from edgewatch.export.tflite import io_quantization, to_tflite
    from edgewatch.train.autoencoders import build_conv_ae, build_dense_ae
    from edgewatch.train.fit import fit_autoencoder

    seed_everything(options.seed)
    n_features = train_inputs.shape[2]
    if window == 1:
        model = build_dense_ae(n_features, options.layers, noise=options.noise, hidden_noise=options.hidden_noise)
        x_train, x_val, rep = train_inputs[:, 0, :], val_inputs[:, 0, :], representative.reshape(-1, n_features)
        params = ModelParams(layers=tuple(options.layers), noise=options.noise, hidden_noise=options.hidden_noise)
        input_shape: tuple[int, ...] = (n_features,)
    else:
        model = build_conv_ae(n_features, window, options.filters, noise=options.noise)
        x_train, x_val, rep = train_inputs, val_inputs, representative
        params = ModelParams(filters=tuple(options.filters), noise=options.noise, kernel=3)
        input_shape = (window, n_features)
    fit = fit_autoencoder(model, x_train, x_val, options.fit)
    files = {  # in this order: each conversion traces the model again
        "model.fp32.tflite": to_tflite(model, representative=None),
        "model.int8.tflite": to_tflite(model, representative=rep),
    }
    files["model.fp32.onnx"] = keras_to_onnx(model, input_shape)
    files["model.int8.onnx"] = quantize_onnx_int8(files["model.fp32.onnx"], rep)
    artifacts: tuple[ArtifactSpec, ...] = (
        ArtifactSpec("litert-int8", "model.int8.tflite", "litert", "int8", "reconstruction"),
        ArtifactSpec("litert-fp32", "model.fp32.tflite", "litert", "fp32", "reconstruction"),
        ArtifactSpec("onnx-int8", "model.int8.onnx", "onnx", "int8", "reconstruction"),
        ArtifactSpec("onnx-fp32", "model.fp32.onnx", "onnx", "fp32", "reconstruction"),
    )
    artifacts = tuple(a._replace(io=io_quantization(files[a.file])) if a.runtime == "litert" else a for a in artifacts)
    return ModelFiles(files, artifacts, params, fit=fit, parameters=int(model.count_params()))


def build_iforest(train_inputs: np.ndarray, options: TrainOptions) -> ModelFiles:
    """Fit the isolation forest on the training rows and export it to ONNX (its output is the score)."""
    from edgewatch.train.iforest import fit_iforest, iforest_to_onnx

    rows = train_inputs[:, 0, :]
    model = fit_iforest(rows, seed=options.seed, n_estimators=options.n_estimators)
    return ModelFiles(
        files={"model.onnx": iforest_to_onnx(model, rows.shape[1])},
        artifacts=(ArtifactSpec("onnx-fp32", "model.onnx", "onnx", "fp32", "score"),),
        params=ModelParams(n_estimators=options.n_estimators, max_samples=int(model.max_samples_)),
        iforest_offset=float(model.offset_),
    )
