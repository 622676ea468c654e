"""The demo's summary: faults matched to the alerts that caught them, raises per fault, false alarms."""

from __future__ import annotations

import numpy as np

from edgewatch.data.recording import FaultEvent, Recording
from edgewatch.demo.summary import LATE_TOLERANCE_S, outcomes, raises_line

T0 = 1.7e9


def _stream(events: list[tuple[str, float, float]]) -> Recording:
    n = 3600
    return Recording(
        features=("a",),
        values=np.zeros((n, 1)),
        timestamps=T0 + np.arange(n, dtype=np.float64),
        events=tuple(FaultEvent(kind, int(a), int(b), T0 + a, T0 + b, ("a",)) for kind, a, b in events),
    )


def _alert(device: str, ts: float, state: str = "raised") -> dict[str, object]:
    return {"device": device, "ts": T0 + ts, "state": state, "top_features": [{"feature": "a", "share": 1.0}]}


def test_raises_per_fault_and_the_summary_line() -> None:
    streams = {
        "pump-01": _stream([("cavitation", 100, 400), ("bearing_wear", 1000, 2000)]),
        "pump-02": _stream([("dropout", 500, 700)]),
    }
    alerts = [
        _alert("pump-01", 150),
        _alert("pump-01", 200, "cleared"),
        _alert("pump-01", 230),  # raised again in the same fault: chatter
        _alert("pump-01", 400 + LATE_TOLERANCE_S),  # just late enough to still belong to it
        _alert("pump-01", 1100),
        _alert("pump-01", 3000),  # no fault: a false alarm
    ]
    sensor_faults = [{"device": "pump-02", "ts": T0 + 510, "state": "active", "sensors": ["a"]}]
    results, false_alarms = outcomes(streams, alerts, sensor_faults)
    by_type = {r.fault_type: r for r in results}
    assert by_type["cavitation"].raises == 3 and by_type["cavitation"].delay_s == 50.0
    assert by_type["bearing_wear"].raises == 1 and by_type["bearing_wear"].caught_by == "alert"
    assert by_type["dropout"].raises == 0 and by_type["dropout"].caught_by == "sensor_fault"
    assert [a["ts"] for a in false_alarms] == [T0 + 3000]
    assert raises_line(results, alerts) == "5 alerts raised for 3 caught faults (1.67 per caught fault)"
    assert raises_line([], []) == "0 alerts raised for 0 caught faults"
