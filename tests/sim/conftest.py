"""Shared recordings for the simulator tests (module-scoped: each is simulated once)."""

from __future__ import annotations

import pytest

from edgewatch.sim import Recording, simulate

# 1 day at 0.2 Hz: 17,280 rows, room for every fault type at a realistic length, and planned stops.
DAY = {"duration_s": 86400.0, "rate_hz": 0.2}


@pytest.fixture(scope="session")
def normal_day() -> Recording:
    return simulate(**DAY, seed=7)


@pytest.fixture(scope="session")
def faulty_day() -> Recording:
    return simulate(**DAY, seed=7, faults="all")
