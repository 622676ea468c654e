"""A packed bundle over MQTT: split into chunks by ``edgewatch deploy``, put back together by the agent.

Each chunk is one QoS 1 message on ``edgewatch/<agent-id>/update/bundle``: a one-line JSON header, a
newline, then the chunk's bytes::

    {"transfer": "<id>", "index": 0, "count": 3, "bytes": 40123, "sha256": "<of the whole>", "force": false}\\n<bytes>

Most bundles (tens of KB) travel in one chunk; chunking keeps each message under brokers' size limits.
:class:`Assembler` collects the chunks of one transfer and hands over the whole once every chunk is there
and the size and sha256 match. It refuses (:class:`TransferRefused`, with ``reason``) a chunk it cannot
read (``malformed``), a transfer announced larger than ``max_bytes`` (``oversized``, before any of it is
kept), a transfer whose chunks stop arriving for ``timeout_s`` or that a new transfer interrupts
(``incomplete``), and a whole whose size or sha256 is wrong (``corrupt``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from edgewatch.bundle import digests  # not hashlib: no OpenSSL libcrypto on the edge (digests.py)

DEFAULT_CHUNK_BYTES = 256 * 1024


class TransferRefused(Exception):
    """A delivery that will not be used; ``reason`` is ``malformed``, ``oversized``, ``incomplete`` or
    ``corrupt``."""

    def __init__(self, reason: str, message: str, transfer: str = "") -> None:
        self.reason = reason
        self.transfer = transfer
        super().__init__(message)


@dataclass(frozen=True)
class Delivery:
    """A complete transfer: the packed bundle and what the sender asked for (``force``: swap without the
    shadow bound)."""

    transfer: str
    data: bytes
    force: bool = False


def chunk_messages(
    data: bytes, transfer: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES, force: bool = False
) -> list[bytes]:
    """The messages that carry ``data`` (a packed bundle) as transfer ``transfer``."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    count = max(1, math.ceil(len(data) / chunk_bytes))
    digest = digests.sha256(data).hexdigest()
    messages = []
    for index in range(count):
        header = {
            "transfer": transfer,
            "index": index,
            "count": count,
            "bytes": len(data),
            "sha256": digest,
            "force": force,
        }
        body = data[index * chunk_bytes : (index + 1) * chunk_bytes]
        messages.append(json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + body)
    return messages


@dataclass
class _Pending:
    transfer: str
    count: int
    size: int
    sha256: str
    force: bool
    last_seen: float
    chunks: dict[int, bytes] = field(default_factory=dict)


class Assembler:
    """Puts chunks back together, one transfer at a time (see the module docstring)."""

    def __init__(self, *, max_bytes: int, timeout_s: float) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._pending: _Pending | None = None
        self._refused: set[str] = set()  # transfers already refused: their further chunks are ignored

    def add(self, payload: bytes, now: float) -> Delivery | None:
        """Take one chunk; the whole delivery once it is complete, else None. Raises :class:`TransferRefused`."""
        header, body = _split(payload)
        transfer = header.transfer
        if transfer in self._refused:
            return None
        pending = self._pending
        if pending is not None and pending.transfer != transfer:
            self._pending = None
            self._refused.add(pending.transfer)
            raise TransferRefused(
                "incomplete",
                f"transfer {pending.transfer} interrupted by transfer {transfer} after "
                f"{len(pending.chunks)} of {pending.count} chunk(s)",
                pending.transfer,
            )
        if pending is None:
            if header.size > self.max_bytes:
                self._refused.add(transfer)
                raise TransferRefused(
                    "oversized",
                    f"transfer {transfer} is {header.size} bytes, more than update.max_bundle_bytes = {self.max_bytes}",
                    transfer,
                )
            pending = _Pending(transfer, header.count, header.size, header.sha256, header.force, now)
            self._pending = pending
        elif (header.count, header.size, header.sha256) != (pending.count, pending.size, pending.sha256):
            self._drop(pending)
            raise TransferRefused(
                "malformed", f"chunk {header.index} of transfer {transfer} disagrees with its first chunk", transfer
            )
        pending.chunks[header.index] = body
        pending.last_seen = now
        if len(pending.chunks) < pending.count:
            return None
        self._drop(pending)
        data = b"".join(pending.chunks[i] for i in range(pending.count))
        if len(data) != pending.size:
            raise TransferRefused(
                "corrupt", f"transfer {transfer} is {len(data)} bytes, announced {pending.size}", transfer
            )
        if digests.sha256(data).hexdigest() != pending.sha256:
            raise TransferRefused("corrupt", f"transfer {transfer}: sha256 mismatch (damaged in transit?)", transfer)
        return Delivery(transfer, data, pending.force)

    def expire(self, now: float) -> TransferRefused | None:
        """The refusal of a transfer whose chunks stopped arriving ``timeout_s`` ago, if any."""
        pending = self._pending
        if pending is None or now - pending.last_seen < self.timeout_s:
            return None
        self._drop(pending)
        return TransferRefused(
            "incomplete",
            f"transfer {pending.transfer}: {len(pending.chunks)} of {pending.count} chunk(s) arrived, "
            f"none for {self.timeout_s:g} s",
            pending.transfer,
        )

    def _drop(self, pending: _Pending) -> None:
        self._pending = None
        self._refused.add(pending.transfer)
        if len(self._refused) > 1000:
            self._refused = {pending.transfer}


@dataclass(frozen=True)
class _Header:
    transfer: str
    index: int
    count: int
    size: int
    sha256: str
    force: bool


def _split(payload: bytes) -> tuple[_Header, bytes]:
    head, newline, body = payload.partition(b"\n")
    try:
        raw: Any = json.loads(head) if newline else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    if isinstance(raw, dict):
        numbers = [raw.get(k) for k in ("index", "count", "bytes")]
        if (
            isinstance(raw.get("transfer"), str)
            and raw["transfer"]
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in numbers)
            and isinstance(raw.get("sha256"), str)
            and isinstance(raw.get("force", False), bool)
            and raw["index"] < raw["count"]
        ):
            header = _Header(
                raw["transfer"], raw["index"], raw["count"], raw["bytes"], raw["sha256"], raw.get("force", False)
            )
            return header, body
    raise TransferRefused("malformed", "not a bundle chunk (expected a JSON header line, then the bytes)")
