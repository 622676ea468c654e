"""The edge side's hashes (``edgewatch.bundle.digests``: CPython's own implementations, no OpenSSL) give the
digests ``hashlib`` gives."""

from __future__ import annotations

import hashlib

import pytest

from edgewatch.bundle import digests


@pytest.mark.parametrize("name", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 1000])
def test_same_digests_as_hashlib(name: str, data: bytes) -> None:
    ours, theirs = getattr(digests, name), getattr(hashlib, name)
    assert ours(data).hexdigest() == theirs(data).hexdigest()
    assert ours(data).digest() == theirs(data).digest()
    incremental = ours()
    for start in range(0, len(data), 4097):
        incremental.update(data[start : start + 4097])
    assert incremental.hexdigest() == theirs(data).hexdigest()
