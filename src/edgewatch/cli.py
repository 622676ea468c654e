"""The ``edgewatch`` command line: one entry point, each command's module imported lazily.

:data:`COMMANDS` names each command's module, its one-line purpose (what ``edgewatch --help`` lists
without importing any command) and its longer description. Each command module under ``edgewatch.commands`` defines::

    def add_arguments(parser: argparse.ArgumentParser) -> None
    def run(args: argparse.Namespace) -> int    # the exit status

Lazy imports keep ``edgewatch run`` on the device free of the training stack: only the chosen
command's module is imported.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple

from edgewatch import __version__
from edgewatch.errors import EdgewatchError


class Command(NamedTuple):
    """A command's module, its one-line purpose (``edgewatch --help``) and its longer description."""

    module: str
    summary: str
    description: str


COMMANDS: dict[str, Command] = {
    "train": Command(
        "edgewatch.commands.train",
        "learn normal operation, write a verified INT8 bundle",
        "train a model of normal operation, quantize it to INT8 and write a verified bundle",
    ),
    "score": Command(
        "edgewatch.commands.score",
        "score a recording with a bundle, row by row",
        "score a recording with a bundle using LiteRT or ONNX Runtime (per row: score, threshold, verdict)",
    ),
    "info": Command(
        "edgewatch.commands.info",
        "show what a bundle holds",
        "show what a bundle holds (model, features, threshold, fidelity, files), or a device's active and previous",
    ),
    "run": Command(
        "edgewatch.commands.run",
        "run the device agent: MQTT readings in, alerts out",
        "run the device agent: score MQTT readings, publish alerts (see deploy/edgewatch.example.toml)",
    ),
    "keygen": Command(
        "edgewatch.commands.keygen",
        "make an Ed25519 key pair for signing bundles",
        "make an Ed25519 key pair for signing bundles: NAME.key (private, keep it) and NAME.pub (for devices)",
    ),
    "sign": Command(
        "edgewatch.commands.sign",
        "sign a bundle with a private key",
        "sign a bundle (Ed25519 over its manifest, which holds the sha256 of every file) with a private key",
    ),
    "deploy": Command(
        "edgewatch.commands.deploy",
        "send a signed bundle to an agent over MQTT",
        "send a signed bundle to an agent over MQTT (shadow, then swap), or tell it to swap, abort or roll back",
    ),
    "replay": Command(
        "edgewatch.commands.replay",
        "run a recording through the agent's pipeline",
        "run a recording through the agent's pipeline (thresholds, alert policy) and write per-row events",
    ),
    "simulate": Command(
        "edgewatch.commands.simulate",
        "simulate a pump with labelled faults (file or MQTT)",
        "simulate a pump with labelled faults: write CSV/Parquet, or publish live to MQTT",
    ),
    "evaluate": Command(
        "edgewatch.commands.evaluate",
        "measure detection quality on labelled recordings",
        "replay labelled recordings through the device pipeline and report detection quality",
    ),
    "compare": Command(
        "edgewatch.commands.compare",
        "compare every model kind on the same data",
        "train every model kind on the same data and compare size, latency, memory, start-up and quality",
    ),
    "demo": Command(
        "edgewatch.commands.demo",
        "watch the whole system catch faults (about 70 s)",
        "simulate a pump, train and quantize a model, run the agent over MQTT and watch it catch faults",
    ),
    "bench": Command(
        "edgewatch.commands.bench",
        "run a benchmark, record the result as JSON",
        "run a benchmark (training, quantization, runtime, agent) and record the result as JSON",
    ),
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name].module)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgewatch", description="Anomaly detection for edge devices.")
    parser.add_argument("--version", action="version", version=f"edgewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, entry in COMMANDS.items():
        if name == command:
            p = sub.add_parser(name, help=entry.summary, description=entry.description)
            _load(name).add_arguments(p)
        else:
            sub.add_parser(name, help=entry.summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if a in COMMANDS), None)
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as exc:
        print(f"edgewatch: command {command!r} is unavailable: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(_load(args.command).run(args) or 0)
    except EdgewatchError as exc:
        print(f"edgewatch {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"edgewatch {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
