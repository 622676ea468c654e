"""The ``edgewatch`` command line: one entry point, each command's module imported lazily.

Each command module under ``edgewatch.commands`` defines::

    HELP: str                                   # one line for ``edgewatch --help``
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

from edgewatch import __version__
from edgewatch.errors import EdgewatchError

COMMANDS: dict[str, str] = {
    "train": "edgewatch.commands.train",
    "score": "edgewatch.commands.score",
    "info": "edgewatch.commands.info",
    "run": "edgewatch.commands.run",
    "keygen": "edgewatch.commands.keygen",
    "sign": "edgewatch.commands.sign",
    "deploy": "edgewatch.commands.deploy",
    "replay": "edgewatch.commands.replay",
    "simulate": "edgewatch.commands.simulate",
    "evaluate": "edgewatch.commands.evaluate",
    "compare": "edgewatch.commands.compare",
    "demo": "edgewatch.commands.demo",
    "bench": "edgewatch.commands.bench",
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgewatch", description="Anomaly detection for edge devices.")
    parser.add_argument("--version", action="version", version=f"edgewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if name == command:
            module = _load(name)
            p = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(p)
        else:
            sub.add_parser(name, help=f"see 'edgewatch {name} --help'", add_help=False)
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
