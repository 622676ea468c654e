"""``edgewatch run``: the device agent (see ``edgewatch.agent.cli``)."""

from edgewatch.agent.cli import add_arguments, run

__all__ = ["add_arguments", "run"]
