"""The exception tree of edgewatch.

::

    EdgewatchError
    ├── DataError          a training/scoring input file is unusable (names file, row, column)
    ├── FieldError         a declared record (edgewatch.records) got a bad value (names the dotted field)
    │   ├── BundleError    a bundle is missing, corrupted, or of another schema
    │   └── ConfigError    an agent configuration or saved device state is invalid
    ├── FidelityError      the INT8 model would not make the same decisions as the float model
    ├── PayloadError       one MQTT payload is unusable (names the reason and field)
    ├── RuntimeBackendError an inference runtime is missing or failed
    └── MissingExtraError  an optional dependency group is not installed

Every command-line entry point turns an ``EdgewatchError`` into one clear line on stderr and a
non-zero exit status; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class EdgewatchError(Exception):
    """Base class of every error edgewatch raises on purpose."""

    exit_code: int = 2


class DataError(EdgewatchError):
    """An input data file cannot be used. The message names the file, and the row/column where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.column = column
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FieldError(EdgewatchError):
    """A value at one field of a declared record is invalid. ``field`` is its dotted path (None: the record as a
    whole); the message starts with it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class BundleError(FieldError):
    """A model bundle is missing, corrupted, truncated or of an unsupported schema version."""


class FidelityError(EdgewatchError):
    """The quantized model disagrees with the float model beyond the configured bars."""

    exit_code = 3


class ConfigError(FieldError):
    """An agent configuration value (or a saved device state) is invalid; ``field`` names the dotted key."""


class PayloadError(EdgewatchError):
    """One incoming reading cannot be scored. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(message)


class RuntimeBackendError(EdgewatchError):
    """An inference runtime (LiteRT, ONNX Runtime) is missing or failed to load or run a model."""


class MissingExtraError(EdgewatchError):
    """An optional dependency group is not installed; the message says which ``pip install`` fixes it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed; install it with: pip install 'edgewatch[{extra}]'")
