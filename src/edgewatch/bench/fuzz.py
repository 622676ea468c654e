"""Hostile reading payloads for the reliability suite (``edgewatch bench faults``): deterministic for a seed.

:func:`fuzz_payloads` mixes mutations of a valid ``{"ts", "values"}`` payload -- broken JSON, random bytes,
wrong types, NaN and infinities, huge numbers and strings, deep nesting, unknown and missing features,
invalid UTF-8, far-future and ancient timestamps, oversized payloads, the flat and array forms with the
wrong length -- with a share of valid ones. None of them may crash the agent; each must be scored or
rejected with a reason.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence


def fuzz_payloads(features: Sequence[str], n: int, *, seed: int = 0, now: float = 1.8e9) -> Iterator[bytes]:
    """``n`` payloads for a model with ``features`` (see the module docstring); ``now`` anchors valid times."""
    rng = random.Random(seed)
    names = list(features)

    def values() -> dict[str, object]:
        return {name: round(rng.gauss(0.0, 1.0), 4) for name in names}

    def valid() -> dict[str, object]:
        return {"ts": now + rng.random(), "values": values()}

    def mutate() -> bytes:
        kind = rng.randrange(24)
        doc: dict[str, object] = valid()
        vals = doc["values"]
        assert isinstance(vals, dict)
        name = rng.choice(names)
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        if kind == 1:
            text = json.dumps(doc).encode()
            return text[: rng.randrange(len(text))]
        if kind == 2:
            vals[name] = rng.choice(["hot", True, None, [], {}, "1e3", ""])
        elif kind == 3:
            vals[name] = rng.choice([float("nan"), float("inf"), float("-inf")])
            return json.dumps(doc, allow_nan=True).encode()
        elif kind == 4:
            vals[name] = rng.choice([1e308, -1e308, 10**400, 1e-320, 2**63])
        elif kind == 5:
            del vals[name]
        elif kind == 6:
            vals[f"{name}_extra{rng.randrange(100)}"] = 1.0
        elif kind == 7:
            doc["ts"] = rng.choice(["soon", "", "2026-13-45T99:00:00Z", -1, 1e30, True, [], {}])
        elif kind == 8:
            doc["ts"] = now + rng.choice([3600.0, 86400.0 * 365 * 70, 1e10])  # far future
        elif kind == 9:
            doc["ts"] = rng.choice([0, 1.0, 86400.0])  # 1970
        elif kind == 10:
            return b"[" * rng.randrange(100, 5000) + b"]" * rng.randrange(0, 10)
        elif kind == 11:
            return json.dumps([rng.random() for _ in range(rng.randrange(0, 2 * len(names) + 2))]).encode()
        elif kind == 12:
            return json.dumps({"ts": now, "values": "x" * rng.randrange(10, 30000)}).encode()
        elif kind == 13:
            return json.dumps({"ts": now, "values": values(), "junk": list(range(rng.randrange(1, 50)))}).encode()
        elif kind == 14:
            return b"\xff\xfe" + json.dumps(doc).encode("utf-16-le")
        elif kind == 15:
            return rng.choice([b"", b"null", b"0", b'"text"', b"true", b"{}", b"[]", b"{\"values\": null}"])
        elif kind == 16:
            flat = {**values(), "ts": now}
            return json.dumps(flat).encode()
        elif kind == 17:
            doc["values"] = list(values().values())[: rng.randrange(len(names) + 1)]
        elif kind == 18:
            vals[name] = rng.gauss(0.0, 1.0) * 1e6  # far out of range
        elif kind == 19:
            doc["values"] = {k: None for k in names}  # every sensor missing
        elif kind == 20:
            vals["\u0000\ud7ff" + name] = 1.0
        elif kind == 21:
            doc["ts"] = (now + rng.random()) * 1000  # milliseconds: valid
        # 22, 23: valid
        return json.dumps(doc).encode()

    for _ in range(n):
        yield mutate()
