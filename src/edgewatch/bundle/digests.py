"""SHA-1, SHA-256 and SHA-512 for the edge side, without loading OpenSSL's libcrypto.

``import hashlib`` loads OpenSSL's ``libcrypto`` (through ``_hashlib``): 3.6 MB of a Raspberry Pi agent's
memory, measured, for hashing a bundle's few files at start-up and on a deploy. CPython ships its own
implementations of these three hashes (``_sha1``, ``_sha256``/``_sha512``; ``_sha2`` from Python 3.12), which
give the same digests; they are used here, and ``hashlib``'s only where the interpreter was built without
them. A plain ``mqtt://`` agent then maps no libcrypto at all (``ssl`` and paho's own ``hashlib`` import are
deferred too: ``edgewatch.transports.deferred``). ``tests/bundle/test_digests.py`` checks the digests
against ``hashlib``'s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


HashFactory = Callable[..., Hash]


def _builtin(name: str, modules: tuple[str, ...]) -> HashFactory:
    """CPython's own ``name`` constructor from the first of ``modules`` that has it, else ``hashlib``'s."""
    for module_name in modules:
        try:
            factory: HashFactory = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue
        return factory
    import hashlib  # an interpreter built without its own implementations: OpenSSL's

    fallback: HashFactory = getattr(hashlib, name)
    return fallback


sha1 = _builtin("sha1", ("_sha1",))
sha256 = _builtin("sha256", ("_sha2", "_sha256"))
sha512 = _builtin("sha512", ("_sha2", "_sha512"))

__all__ = ["Hash", "sha1", "sha256", "sha512"]
