"""``edgewatch run``: the device agent (see ``edgewatch.agent.cli``)."""

from edgewatch.agent.cli import HELP, add_arguments, run

__all__ = ["HELP", "add_arguments", "run"]
