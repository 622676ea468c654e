"""edgewatch.sim — a seeded simulator of a motor-driven centrifugal pump with labelled faults.

Edge-safe: stdlib and numpy only (pyarrow is imported only to write Parquet, paho-mqtt only to publish
live). Typical use::

    from edgewatch.sim import simulate, write_csv

    rec = simulate(duration_s=2 * 86400, faults="all", seed=0)   # 2 days at 1 Hz, each fault type once
    train = rec.normal_head()                                    # fault-free rows before the first fault
    write_csv(rec, "pump.csv")                                   # + pump.csv.events.json

Modules: :mod:`~edgewatch.sim.pump` (physics and sensors), :mod:`~edgewatch.sim.faults` (fault
library), :mod:`~edgewatch.sim.schedule` (fault placement), :mod:`~edgewatch.sim.recovery` (what
follows a fault: slow sensors lag back, a lasting shift as after a repair), :mod:`~edgewatch.sim.simulator`
(:func:`simulate`, which returns a :class:`edgewatch.data.recording.Recording`), :mod:`~edgewatch.sim.writers`
(CSV, Parquet, events sidecar), :mod:`~edgewatch.sim.live` (MQTT publishing).
"""

from edgewatch.data.recording import FaultEvent, Recording
from edgewatch.sim.faults import FAULT_TYPES, parse_faults
from edgewatch.sim.pump import SENSORS, feature_names
from edgewatch.sim.simulator import simulate, simulate_normal
from edgewatch.sim.writers import events_path, read_events, write_csv, write_events, write_parquet, write_recording

__all__ = [
    "FAULT_TYPES",
    "SENSORS",
    "FaultEvent",
    "Recording",
    "events_path",
    "feature_names",
    "parse_faults",
    "read_events",
    "simulate",
    "simulate_normal",
    "write_csv",
    "write_events",
    "write_parquet",
    "write_recording",
]
