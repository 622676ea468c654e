"""``edgewatch demo``: watch the whole system catch faults, on this machine, in a few minutes."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", default="demo-output", help="where the demo writes its files (demo-output)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours streamed per pump (4)")
    parser.add_argument("--rate", type=float, default=1500.0, help="readings published per second, all pumps")
    parser.add_argument("--runtime", choices=["litert", "onnx"], default="litert")
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="use this broker (mqtt://[user[:password]@]host[:port], mqtts://...) instead of starting a private "
        "mosquitto; readings go to edgewatch-demo/<pump>/sensors",
    )


def run(args: argparse.Namespace) -> int:
    from edgewatch.demo.runner import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            workdir=Path(args.workdir),
            seed=args.seed,
            stream_hours=args.hours,
            readings_per_second=args.rate,
            runtime=args.runtime,
            broker=args.broker,
        )
    )
