"""Scoring the live run: which injected faults were caught, how fast, by how many alerts, and how many false
alarms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgewatch.sim import Recording

LATE_TOLERANCE_S = 60.0  # an alert raised this soon after a fault ends still belongs to it


@dataclass(frozen=True)
class FaultOutcome:
    device: str
    fault_type: str
    start_ts: float
    end_ts: float
    sensors: tuple[str, ...]
    caught_by: str | None  # "alert" or "sensor_fault"
    delay_s: float | None
    top_feature: str | None
    raises: int = 0  # alerts raised for this fault (one fault should be one alert)


def outcomes(
    streams: dict[str, Recording], alerts: list[dict[str, Any]], sensor_faults: list[dict[str, Any]]
) -> tuple[list[FaultOutcome], list[dict[str, Any]]]:
    """Match detections to injected faults: a fault is caught by the first alert raised, or sensor fault
    reported, with a reading time inside the fault (or up to :data:`LATE_TOLERANCE_S` after it); every alert
    raised in that span counts in the fault's ``raises``. Raised alerts matching no fault are false alarms."""
    raised = [a for a in alerts if a.get("state") == "raised"]
    faults_on = [s for s in sensor_faults if s.get("state") == "active"]
    results: list[FaultOutcome] = []
    used: set[int] = set()
    for device, recording in streams.items():
        for event in recording.events:
            start, end = event.start_ts, event.end_ts
            hits = [
                (a["ts"], "alert", i, a)
                for i, a in enumerate(raised)
                if a["device"] == device and start <= a["ts"] <= end + LATE_TOLERANCE_S
            ]
            hits += [
                (s["ts"], "sensor_fault", -1, s)
                for s in faults_on
                if s["device"] == device and start <= s["ts"] <= end + LATE_TOLERANCE_S
            ]
            hits.sort(key=lambda h: h[0])
            for _, _, i, _ in hits:
                if i >= 0:
                    used.add(i)
            first = hits[0] if hits else None
            top = None
            if first is not None and first[1] == "alert" and first[3].get("top_features"):
                top = first[3]["top_features"][0]["feature"]
            elif first is not None:
                top = ",".join(first[3].get("sensors", []))
            results.append(
                FaultOutcome(
                    device=device,
                    fault_type=event.type,
                    start_ts=start,
                    end_ts=end,
                    sensors=tuple(event.sensors),
                    caught_by=first[1] if first else None,
                    delay_s=(first[0] - start) if first else None,
                    top_feature=top,
                    raises=sum(1 for h in hits if h[1] == "alert"),
                )
            )
    false_alarms = [a for i, a in enumerate(raised) if i not in used]
    return results, false_alarms


def raises_line(results: list[FaultOutcome], alerts: list[dict[str, Any]]) -> str:
    """``N alerts raised for M caught faults``: every ``raised`` alert message of the run (false alarms
    included) against the faults caught by an alert or a sensor fault; one alert per fault is the aim."""
    raised = sum(1 for a in alerts if a.get("state") == "raised")
    caught = sum(1 for r in results if r.caught_by)
    per_fault = f" ({raised / caught:.2f} per caught fault)" if caught else ""
    return f"{raised} alerts raised for {caught} caught faults{per_fault}"
