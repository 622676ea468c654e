"""``python -m edgewatch.agent --config FILE``: the agent without the ``edgewatch`` command dispatcher."""

from __future__ import annotations

import argparse
import logging
import sys

from edgewatch.agent import cli
from edgewatch.errors import EdgewatchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgewatch.agent", description="the device agent (edgewatch run)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return cli.run(args)
    except EdgewatchError as exc:
        print(f"edgewatch run: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
