"""Declared records at every JSON boundary: the agent configuration, the bundle manifest and the saved device
state are frozen dataclasses, read by one strict loader whose errors name the dotted field
(:func:`load`) and written back as plain data (:func:`dump`). Standard library only."""

from edgewatch.records.loader import Secret, check, dump, load

__all__ = ["Secret", "check", "dump", "load"]
