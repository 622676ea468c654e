"""Fitting a Keras autoencoder with early stopping on a time-ordered validation split and a progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgewatch.bundle import FitSummary
from edgewatch.export.keras_env import import_tf


@dataclass(frozen=True)
class FitSettings:
    """Optimisation settings. ``batch_size=None`` picks one from the number of rows."""

    max_epochs: int = 200
    patience: int = 10
    batch_size: int | None = None
    learning_rate: float = 1e-3
    progress: bool = True


def _progress_callback(total: int) -> Any:
    _, keras = import_tf()
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:  # pragma: no cover - tqdm is in the train extra
        tqdm = None

    class Progress(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_begin(self, logs: Any = None) -> None:
            self.bar = (
                tqdm(total=total, desc="training", unit="epoch", file=sys.stderr, leave=False)
                if tqdm is not None
                else None
            )

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.bar is not None:
                self.bar.update(1)
                logs = logs or {}
                self.bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}", val=f"{logs.get('val_loss', 0):.4f}")

        def on_train_end(self, logs: Any = None) -> None:
            if self.bar is not None:
                self.bar.close()

    return Progress()


def fit_autoencoder(
    model: Any, train: np.ndarray, validation: np.ndarray, settings: FitSettings
) -> FitSummary:
    """Train ``model`` to reconstruct its input; restore the weights of the best validation epoch."""
    _, keras = import_tf()
    batch_size = settings.batch_size or int(min(256, max(16, len(train) // 16)))
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="mse")
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True, min_delta=1e-5
        )
    ]
    if settings.progress:
        callbacks.append(_progress_callback(settings.max_epochs))
    history = model.fit(
        train,
        train,
        epochs=settings.max_epochs,
        batch_size=batch_size,
        validation_data=(validation, validation),
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    val = np.asarray(history.history["val_loss"])
    best = int(np.argmin(val))
    return FitSummary(
        epochs_run=len(val),
        best_epoch=best + 1,
        train_loss=float(history.history["loss"][best]),
        validation_loss=float(val[best]),
        batch_size=batch_size,
    )
