"""``require_mosquitto()``: the mosquitto binary for a test that starts a real broker (:mod:`edgewatch.rig.broker`);
the test is skipped when it is missing, except under ``CI=true``, where a missing broker is a setup error (the
README's setup installs it) and fails."""

from __future__ import annotations

import os

import pytest

from edgewatch.rig.broker import find_mosquitto


def require_mosquitto() -> str:
    """Return the mosquitto binary; skip the test if missing (fail instead when ``CI`` is set)."""
    binary = find_mosquitto()
    if binary is None:
        message = "mosquitto is not installed (apt-get install mosquitto)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI must install it", pytrace=False)
        pytest.skip(message)
    return binary
