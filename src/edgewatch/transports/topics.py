"""MQTT topic names and filters: validation, matching, and the agent's topic layout.

The agent's own topics (``edgewatch/<device>/alert`` and friends) are built here so that every module
names them the same way. Pure functions, no I/O.
"""

from __future__ import annotations

ROOT = "edgewatch"


def validate_filter(topic_filter: str) -> list[str]:
    """Split a subscription filter into levels; raise ``ValueError`` if it is not a valid MQTT filter.

    ``+`` must fill a whole level, ``#`` must be the whole last level, and the filter must be non-empty
    UTF-8 without NUL characters.
    """
    if not topic_filter:
        raise ValueError("a topic filter cannot be empty")
    if "\x00" in topic_filter:
        raise ValueError("a topic filter cannot contain NUL")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError("'#' must be the whole last level of a topic filter")
        if "+" in level and level != "+":
            raise ValueError("'+' must fill a whole topic level")
    return levels


def validate_topic(topic: str) -> None:
    """Raise ``ValueError`` unless ``topic`` is a valid topic name to publish on (no wildcards)."""
    if not topic:
        raise ValueError("a topic cannot be empty")
    if "+" in topic or "#" in topic or "\x00" in topic:
        raise ValueError(f"topic {topic!r} contains a wildcard or NUL")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True when ``topic`` matches subscription ``topic_filter`` (``+`` one level, ``#`` the rest).

    Topics starting with ``$`` (broker internals) never match a filter starting with a wildcard.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    pattern = topic_filter.split("/")
    levels = topic.split("/")
    for i, part in enumerate(pattern):
        if part == "#":
            return True
        if i >= len(levels):
            return False
        if part != "+" and part != levels[i]:
            return False
    return len(pattern) == len(levels)


def device_from_topic(topic: str, level: int) -> str | None:
    """The device id at topic level ``level`` (0-based); None if the topic lacks that level or it is empty."""
    levels = topic.split("/")
    if level >= len(levels):
        return None
    return levels[level] or None


def device_topic(device: str, kind: str) -> str:
    """``edgewatch/<device>/<kind>``: kind is ``alert``, ``error``, ``sensor_fault`` or ``score``."""
    return f"{ROOT}/{device}/{kind}"


def agent_topic(agent_id: str, kind: str) -> str:
    """``edgewatch/<agent-id>/<kind>``: kind is ``status``, ``stats`` or ``thermal``."""
    return f"{ROOT}/{agent_id}/{kind}"
