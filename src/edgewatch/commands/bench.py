"""``edgewatch bench NAME``: run one benchmark, print a summary and write the full result as JSON."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from edgewatch.bench import BENCHMARKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    parser.add_argument("--out", help="write the result here as JSON (e.g. benchmarks/results/runtime.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", type=int, default=16, help="number of simulated sensors (16)")
    g = parser.add_argument_group("training")
    g.add_argument("--rows", type=int, help="training/read: simulated rows (training 20000, read 100000)")
    g.add_argument("--max-epochs", type=int, default=200, help="training/quantization: epoch cap (200)")
    g.add_argument(
        "--repeats", type=int, help="training: pipeline/baseline pairs, interleaved (2); read: best of (3)"
    )
    g = parser.add_argument_group("quantization")
    g.add_argument("--days", type=float, default=1.0, help="quantization: simulated days per recording (1)")
    g.add_argument("--rate", type=float, default=0.5, help="quantization: readings per second (0.5)")
    g.add_argument("--variants", help="quantization: comma-separated subset of the variants (default: all)")
    g = parser.add_argument_group("runtime / agent")
    g.add_argument("--bundle", help="runtime/agent: bundle to measure (default: train a default one)")
    g.add_argument("--calls", type=int, default=2000, help="runtime: batch-1 calls per backend (2000)")
    g.add_argument("--startups", type=int, default=5, help="runtime: fresh processes per backend (5)")
    g.add_argument(
        "--throughput-seconds", type=float, default=1.0, help="runtime: seconds per batch-size throughput run (1)"
    )
    g.add_argument("--train-rows", type=int, default=20_000, help="runtime/agent: rows for the default bundle")
    g.add_argument("--rate-hz", type=float, default=1000.0, help="agent: readings/s for the latency test (1000)")
    g.add_argument("--seconds", type=float, default=5.0, help="agent: length of each timed phase (5)")
    g.add_argument(
        "--state-save-interval-s",
        type=float,
        help="devices: the agent's state_save_interval_s during the runs (default 3600: no periodic save)",
    )
    g.add_argument(
        "--no-state-timing",
        dest="state_timing",
        action="store_false",
        default=None,
        help="devices: skip the in-process state save / restore timing",
    )
    g.add_argument("--shadow-readings", type=int, help="update: readings the new model scores in shadow (2000)")
    g.add_argument(
        "--versus-seed-readings", type=int, help="agent: readings against the seed loop (40000; 0: skip)"
    )
    g.add_argument("--versus-seed-rounds", type=int, help="agent: seed loop / agent rounds, alternating (3)")
    g.add_argument(
        "--listener-delayed-ack",
        dest="listener_quickack",
        action="store_false",
        default=None,
        help="agent: the listener acknowledges TCP segments with the kernel's delay, not at once (TCP_QUICKACK)",
    )
    g = parser.add_argument_group("faults (the reliability suite; docs: benchmarks/README.md)")
    g.add_argument("--short", action="store_true", default=None, help="faults: the short variant the tests run")
    g.add_argument(
        "--scenarios",
        help="faults: comma-separated subset of sigkill,broker_outage,black_hole,disk_full,fuzz,flood,soak",
    )
    g.add_argument("--kills", type=int, help="faults: SIGKILLs in the kill loop (30)")
    g.add_argument("--outage-s", type=float, help="faults: broker outage seconds (60)")
    g.add_argument("--blackhole-s", type=float, help="faults: network black-hole seconds (90)")
    g.add_argument("--fuzz", type=int, help="faults: hostile payloads (120000)")
    g.add_argument("--soak-s", type=float, help="faults: soak seconds (600)")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (RuntimeError, ValueError) as exc:  # e.g. mosquitto missing, an unknown variant
        print(f"edgewatch bench: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    benchmark = importlib.import_module(f"edgewatch.bench.{args.name}").run
    if args.variants:
        args.variants = [v.strip() for v in args.variants.split(",")]
    if getattr(args, "scenarios", None):
        args.scenarios = [v.strip() for v in args.scenarios.split(",")]
    # options left unset (None) take the benchmark's own default
    options = {
        k: getattr(args, k)
        for k in inspect.signature(benchmark).parameters
        if hasattr(args, k) and getattr(args, k) is not None
    }
    result: dict[str, Any] = benchmark(**options, say=say)
    argv = sys.argv[sys.argv.index(args.name) :] if args.name in sys.argv else [args.name]
    result["command"] = "edgewatch bench " + " ".join(argv)
    text = json.dumps(result, indent=2, sort_keys=False, default=_jsonable)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        say(f"wrote {args.out}")
    targets = result.get("targets", {})
    for name, t in targets.items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t.get("met")]
        measured = f"{t.get('value')} {t.get('comparison')} {t.get('limit')} {t.get('unit')}"
        print(f"{args.name} target {name}: {measured}: {verdict}")
    for name, value in result.get("ratios", {}).items():
        print(f"{args.name} ratio {name}: {value:.3f}")
    if not args.out:
        print(text)
    return 0


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ModuleNotFoundError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
