"""Run the real agent service with the fake backend: ``python run_fake_agent.py CONFIG``.

Used by the signal and ``kill -9`` tests, which need the agent in its own process. Prints ``started``
once the service is running (before it connects).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.fakes


from edgewatch.agent.config import load_config
from edgewatch.agent.service import run_agent
from tests.fakes import SquaredScorer


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(sys.argv[1])
    print("started", flush=True)
    return run_agent(config, backend=SquaredScorer())


if __name__ == "__main__":
    sys.exit(main())
