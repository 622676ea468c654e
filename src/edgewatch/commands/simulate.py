"""``edgewatch simulate``: pump sensor data with labelled faults, to a file or live to MQTT.

File mode::

    edgewatch simulate --out pump.csv [--rows N | --duration 2h] [--rate 1] [--features 10]
                       [--faults all|none|bearing_wear,spike,...] [--fault-count N] [--seed 0] [--sep ';']
                       [--no-recovery]

writes the recording (CSV or Parquet by suffix) and ``<file>.events.json``, and prints a summary.

Live mode::

    edgewatch simulate --mqtt mqtt://127.0.0.1:1883 --devices 50 --rate 2 [--duration 60s]
                       [--topic 'plant/{device}/sensors'] [--speedup 10]

publishes every device's readings as ``{"ts": ..., "values": {...}}`` until the duration (simulated
time, default 1 h) is over.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgewatch.sim.faults import FAULT_TYPES
    from edgewatch.sim.live import DEFAULT_TOPIC
    from edgewatch.sim.pump import BASE_FEATURES, DEFAULT_STOPS_PER_DAY, MAX_FEATURES, MIN_FEATURES

    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="FILE", help="write FILE.csv (.tsv) or FILE.parquet (+ FILE.events.json)")
    target.add_argument("--mqtt", metavar="URL", help="publish live to a broker, e.g. mqtt://127.0.0.1:1883")

    length = parser.add_mutually_exclusive_group()
    length.add_argument("--rows", type=int, metavar="N", help="number of rows per device")
    length.add_argument(
        "--duration",
        metavar="SPAN",
        help="simulated time span, e.g. 90s, 15m, 2h, 1d (default: 2d for files, 1h live)",
    )
    parser.add_argument("--rate", type=float, default=1.0, metavar="HZ", help="readings per second (default 1)")
    parser.add_argument(
        "--features",
        type=int,
        default=BASE_FEATURES,
        metavar="N",
        help=f"number of sensors, {MIN_FEATURES}-{MAX_FEATURES} (default {BASE_FEATURES})",
    )
    parser.add_argument(
        "--faults",
        default="all",
        metavar="LIST",
        help=f"all (default), none, or a comma-separated list of: {', '.join(FAULT_TYPES)}",
    )
    parser.add_argument(
        "--fault-count",
        type=int,
        metavar="N",
        help="number of fault events, cycling through the chosen types (default: each type once)",
    )
    parser.add_argument(
        "--normal-lead",
        type=int,
        metavar="ROWS",
        help="fault-free rows at the start, for training (default: 40%% of the rows)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same data (default 0)")
    parser.add_argument(
        "--start",
        metavar="TIME",
        help="first timestamp, ISO 8601 or epoch seconds (default 2026-01-01T00:00:00Z; live: now)",
    )
    parser.add_argument(
        "--stops-per-day",
        type=float,
        default=DEFAULT_STOPS_PER_DAY,
        metavar="N",
        help=f"planned stops per day, normal operation (default {DEFAULT_STOPS_PER_DAY:g}; 0: none)",
    )
    parser.add_argument(
        "--severity",
        type=float,
        default=1.0,
        help="scale of every fault magnitude (default 1.0; 0.5 is a harder benchmark)",
    )
    parser.add_argument(
        "--no-recovery",
        dest="recovery",
        action="store_false",
        help="faults end abruptly: no slow return of temperatures and no lasting shift after a fault "
        "(default: both, labelled normal; see edgewatch.sim.recovery)",
    )
    parser.add_argument("--sep", default=",", help="CSV separator (default ',')")

    live = parser.add_argument_group("live mode (--mqtt)")
    live.add_argument("--devices", type=int, default=1, metavar="N", help="number of pumps (default 1)")
    live.add_argument(
        "--topic", default=DEFAULT_TOPIC, help=f"topic template with {{device}} (default {DEFAULT_TOPIC!r})"
    )
    live.add_argument("--speedup", type=float, default=1.0, metavar="X", help="publish X times faster than real time")
    live.add_argument("--qos", type=int, choices=(0, 1, 2), default=0, help="MQTT QoS (default 0)")
    live.add_argument("--client-id", default="", help="MQTT client id (default: random)")


def run(args: argparse.Namespace) -> int:
    from edgewatch.core.timestamps import parse_duration
    from edgewatch.errors import ConfigError

    try:
        duration_s = None if args.duration is None else parse_duration(args.duration)
    except ValueError as exc:
        raise ConfigError(str(exc), field="--duration") from None
    common: dict[str, Any] = {
        "n_rows": args.rows,
        "duration_s": duration_s,
        "rate_hz": args.rate,
        "n_features": args.features,
        "seed": args.seed,
        "faults": args.faults,
        "fault_count": args.fault_count,
        "normal_lead_rows": args.normal_lead,
        "stops_per_day": args.stops_per_day,
        "severity": args.severity,
        "recovery": args.recovery,
    }
    if args.mqtt:
        return _run_live(args, common)
    return _run_file(args, common)


def _run_file(args: argparse.Namespace, common: dict[str, Any]) -> int:
    from edgewatch.sim.simulator import DEFAULT_START, simulate
    from edgewatch.sim.writers import check_separator, events_path, output_format, write_recording

    if output_format(args.out) == "csv":  # bad output options fail before the work
        check_separator(args.sep)
    rec = simulate(start_time=args.start or DEFAULT_START, **common)
    path = write_recording(rec, args.out, sep=args.sep)
    print(
        f"wrote {rec.n_rows} rows × {rec.n_features} features at {rec.rate_hz:g} Hz to {path} "
        f"(events: {events_path(path)})"
    )
    _print_events(rec)
    if rec.events:
        print(
            "after each fault: temperatures lag back, 2-3 sensors shift lastingly (normal rows)"
            if args.recovery
            else "after each fault: back to normal at once (--no-recovery)"
        )
    return 0


def _print_events(rec: Any, indent: str = "") -> None:
    from edgewatch.core.timestamps import iso_utc

    labelled = int(rec.labels.sum()) if rec.labels is not None else 0
    print(
        f"{indent}{len(rec.events)} faults on {labelled} rows ({labelled / max(rec.n_rows, 1):.1%}); "
        f"{len(rec.stops)} planned stops (normal)"
    )
    for ev in rec.events:
        print(
            f"{indent}  {ev.type:<18} rows {ev.start_row}-{ev.end_row - 1} "
            f"({iso_utc(ev.start_ts)} .. {iso_utc(ev.end_ts)})  {', '.join(ev.sensors)}"
        )
    placed = sum(ev.end_row - ev.start_row for ev in rec.events)
    drawn = rec.fault_rows_drawn  # 0 for a slice (live mode): its events are clipped, the drawn total is not theirs
    if drawn > placed:  # the schedule shortened them to fit: say so, the fault mix is not the drawn one
        print(
            f"{indent}note: the faults did not fit at their drawn lengths ({drawn} rows) and were shortened to "
            f"{placed} rows ({placed / drawn:.0%}); a longer recording or fewer faults keeps them as drawn"
        )


def _run_live(args: argparse.Namespace, common: dict[str, Any]) -> int:
    from edgewatch.sim.live import device_ids, publish_live

    if args.sep != ",":
        print("edgewatch simulate: note: --sep has no effect with --mqtt", file=sys.stderr)
    first = device_ids(args.devices)[0] if args.devices >= 1 else "?"
    print(
        f"publishing {args.devices} device(s) to {args.mqtt} on {args.topic.replace('{device}', '<device>')} "
        f"at {args.rate:g} Hz x{args.speedup:g} (first device {first}); Ctrl-C to stop",
        flush=True,
    )
    stats = publish_live(
        args.mqtt,
        devices=args.devices,
        speedup=args.speedup,
        topic=args.topic,
        qos=args.qos,
        start_time=args.start,
        client_id=args.client_id,
        **common,
    )
    print(
        f"published {stats.messages} messages ({stats.rows} rows × {stats.devices} devices) "
        f"in {stats.elapsed_s:.1f} s; late ticks: {stats.late_ticks}; failed: {stats.failed}"
    )
    for device, rec in stats.recordings.items():
        sent = rec.slice(0, stats.rows)
        if len(stats.recordings) <= 3:
            print(f"{device}:")
            _print_events(sent, indent="  ")
        elif sent.events:
            faults = ", ".join(f"{ev.type}@{ev.start_row}-{ev.end_row - 1}" for ev in sent.events)
            print(f"{device}: {faults}")
    return 0 if stats.failed == 0 else 1
