"""The drift baseline: a per-device, per-sensor offset that follows the machine's slow normal drift.

A model trained on a short recording has not seen the machine warm up, follow the ambient temperature or
settle at a slightly different operating point after a repair; each of those moves a sensor off the rows it
learned, slowly, and a model that judges absolute levels then stays in alert for hours on a healthy machine
(docs/evaluation.md: 98.7% of a fault-free SKAB recording flagged). The baseline learns that drift, and only
that drift, and takes it out of the model's input::

    x_model = x_scaled - offset                                  # what the model sees
    offset += a * residual        a = 1 - exp(-dt / tau_s)        # only for readings judged calm (below)

``residual`` is the reading's signed ``x_model - reconstruction`` (:class:`~edgewatch.runtime.base.ScoreBatch`):
the part of the reading the model cannot explain. A shift the model explains (a change of operating point it
has seen) leaves the offset alone; a shift off what it learned is absorbed with time constant ``tau_s``
(default 600 s), which is slow next to every fault onset and fast next to a warm-up.

It must not learn a fault away. A sensor is learned only while its own error is below ``learn_below`` times
the threshold (default 0.5), and nothing is learned while alerts are suppressed (machine stopped or settling).
A fault moves the sensors it touches past half the threshold within readings and freezes their offsets where
they were, for as long as it lasts; the other sensors keep following the machine. That second half is what
lets an alert clear after a fault: on SKAB the thermocouple cools steadily through every recording, and an
offset frozen for the whole alert left it several training deviations off when the fault ended, so the alert
never cleared (docs/evaluation.md). An active alert therefore does not stop learning; the sensors it is about
do.

A fault that *drifts* (a sensor that walks away over hours) is what this cannot tell from a warm-up. Bundles
with a sustained-deviation channel (:mod:`edgewatch.core.sustained`) are trained on enough time to have
calibrated the machine's slow variation and exist to catch exactly such faults, so ``thresholds.drift =
"auto"`` (the default) turns the baseline on only for bundles without that channel (a short training
recording) and for models with a reconstruction (not the isolation forest); ``"on"`` and ``"off"`` force it.
Measured in docs/evaluation.md.

What is learned is applied on a grid of reading time (every ``GRID_S`` = 10 s, per device): the offset a
reading is scored with changes only when its timestamp enters a new grid cell, and then by everything
learned from the readings of the cells before. All readings of a device in one cell share an offset
whatever the batches they arrive in, so the pipeline scores each cell's readings in one model call and the
agent, ``replay`` and ``evaluate`` still give the same events whatever the batch sizes. Applying each
change up to 10 s late is immaterial next to the 600-s time constant; scoring every reading with its own
offset (one model call per reading, as first built) cost the agent every reading above about 2,000/s it
could not absorb in a burst (benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgewatch.core.state import DriftState

DRIFT_MODES = ("auto", "on", "off")
DEFAULT_DRIFT_TAU_S = 600.0
DEFAULT_LEARN_BELOW = 0.5
GRID_S = 10.0  # learned changes are applied when a reading's timestamp enters a new cell of this length


def drift_enabled(mode: str, has_sustained_channel: bool, model_output: str) -> bool:
    """Whether a pipeline runs drift baselines: ``mode`` is ``thresholds.drift`` (see the module docstring)."""
    if mode == "auto":
        return not has_sustained_channel and model_output == "reconstruction"
    return mode == "on"


class DriftBaseline:
    """One device's drift offset per feature in scaled units (see the module docstring)."""

    __slots__ = ("cell", "last_ts", "learn_below", "offset", "pending", "tau_s")

    def __init__(self, n_features: int, tau_s: float = DEFAULT_DRIFT_TAU_S, learn_below: float = DEFAULT_LEARN_BELOW):
        self.tau_s = tau_s
        self.learn_below = learn_below
        self.offset = np.zeros(n_features, dtype=np.float64)  # what readings of the current cell are scored with
        self.pending = np.zeros(n_features, dtype=np.float64)  # learned since, applied at the next cell
        self.cell: int | None = None  # the grid cell of the last reading scored (None: none yet)
        self.last_ts: float | None = None  # ts of the last reading it saw

    @property
    def learned(self) -> np.ndarray:
        """Everything learned so far: the offset plus what the next cell will apply."""
        total: np.ndarray = self.offset + self.pending
        return total

    def offset_for(self, ts: float) -> np.ndarray:
        """The offset a reading at ``ts`` is scored with: in a new cell, first apply what was learned. Call
        it for a device's readings in timestamp order, each after the verdicts of those before its cell."""
        cell = math.floor(ts / GRID_S)
        if cell != self.cell:
            if self.cell is not None:
                self.offset += self.pending
                self.pending[:] = 0.0
            self.cell = cell
        return self.offset

    def step(self, ts: float, *, suppressed: bool) -> float:
        """Advance the clock to a reading at ``ts`` and return the weight it is learned with
        (:func:`learn_readings`): ``1 - exp(-dt /
        tau_s)`` for ``dt`` since the previous reading (at most ``tau_s``); 0 for the first reading, one not
        after the previous, and while ``suppressed`` (a stop is not drift: counting starts afresh after it)."""
        if suppressed:
            self.last_ts = None
            return 0.0
        last = self.last_ts
        self.last_ts = ts
        if last is None or ts <= last:
            return 0.0
        return -math.expm1(-min(ts - last, self.tau_s) / self.tau_s)

    def snapshot(self) -> DriftState:
        """What a restart must remember (what was learned, applied: a restarted device starts a new cell)."""
        return DriftState(offset=tuple(self.learned.tolist()), last_ts=self.last_ts)

    @classmethod
    def restore(cls, state: DriftState | None, n_features: int, tau_s: float, learn_below: float) -> DriftBaseline:
        """The saved baseline; a missing one, or one of another feature count, starts at zero."""
        baseline = cls(n_features, tau_s, learn_below)
        if state is not None and len(state.offset) == n_features:
            baseline.offset = np.array(state.offset, dtype=np.float64)
            baseline.last_ts = state.last_ts
        return baseline


def learn_readings(
    baselines: Sequence[DriftBaseline],
    timestamps: Sequence[float],
    suppressed: Sequence[bool],
    thresholds: Sequence[float],
    residuals: np.ndarray,
    errors: np.ndarray,
) -> None:
    """Learn scored readings in order (see the module docstring): row ``i`` (``residuals[i]``, ``errors[i]``,
    judged against ``thresholds[i]``) into ``baselines[i]``; nothing while ``suppressed[i]``, else the features
    whose own errors are below ``learn_below * thresholds[i]``, weighted by :meth:`DriftBaseline.step`. Bit for
    bit what learning them one at a time gives; the array work is done once for all of them (one
    ``np.where`` per reading cost the pipeline more than scoring it)."""
    weights = [b.step(ts, suppressed=s) for b, ts, s in zip(baselines, timestamps, suppressed, strict=True)]
    learned = [i for i, w in enumerate(weights) if w]
    if not learned:
        return
    gates = np.array([baselines[i].learn_below * thresholds[i] for i in learned])
    rows = residuals[learned] * np.array([weights[i] for i in learned])[:, None]
    deltas = np.where(errors[learned] < gates[:, None], rows, 0.0)
    for j, i in enumerate(learned):
        baselines[i].pending += deltas[j]
