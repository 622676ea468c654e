"""The demo's plant: one simulated pump model, a day of normal operation to train on, and three
monitored pumps whose next hours carry injected faults of every type (three per pump)."""

from __future__ import annotations

from dataclasses import dataclass

from edgewatch.sim import Recording, simulate

TRAIN_SECONDS = 2 * 86_400  # two days: the daily ambient cycle twice, and ~6 planned stops to learn
STREAM_SECONDS = 4 * 3600
FAULTS_BY_DEVICE = {
    "pump-01": ("bearing_wear", "cavitation", "misalignment"),
    "pump-02": ("sensor_drift", "sensor_offset", "spike"),
    "pump-03": ("stuck_sensor", "dropout", "correlation_break"),
}


@dataclass(frozen=True)
class Scenario:
    training: Recording
    streams: dict[str, Recording]


def build_scenario(*, seed: int = 7, n_features: int = 10, stream_seconds: int = STREAM_SECONDS) -> Scenario:
    """Deterministic for ``seed``: the same plant (the same seed) trains the model and feeds every pump,
    each pump with its own faults after a fault-free lead-in."""
    total = TRAIN_SECONDS + stream_seconds
    streams = {}
    training = None
    for device, faults in FAULTS_BY_DEVICE.items():
        full = simulate(
            duration_s=total,
            n_features=n_features,
            seed=seed,
            faults=list(faults),
            normal_lead_rows=TRAIN_SECONDS + 600,
        )
        if training is None:
            training = full.slice(0, TRAIN_SECONDS)
        streams[device] = full.slice(TRAIN_SECONDS, total)
    assert training is not None
    return Scenario(training=training, streams=streams)
