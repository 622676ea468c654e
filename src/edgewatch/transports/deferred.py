"""paho-mqtt's client module, imported without ``ssl``, ``urllib.request`` and ``hashlib`` until paho uses them.

``paho.mqtt.client`` imports ``ssl`` (TLS), ``urllib.request`` (proxy settings from the environment, which
pulls in ``http.client`` and ``email``) and ``hashlib`` (the websocket handshake) at module level: about 9 MB
of a Raspberry Pi agent's memory (measured: OpenSSL's libcrypto through ``hashlib`` 3.6 MB, ``ssl`` on top of it
1.1 MB and more, ``urllib.request`` with ``http.client`` and ``email`` 3.4 MB) that a plain ``mqtt://``
connection never uses. paho reads them only as attributes at call time: ``ssl.SSLContext`` and friends when
TLS is set up, ``ssl.SSLWantReadError`` and ``ssl.SSLWantWriteError`` in the ``except`` clauses of its socket reads and
writes (evaluated whenever one raises, e.g. ``BlockingIOError`` on a plain socket: while ``_ssl`` is not
loaded, no SSL exception can exist, so the stand-in answers those two with a class that matches nothing
rather than loading ``ssl``), ``urllib.request.getproxies`` only when PySocks is installed,
``hashlib.sha1`` only for websockets.

So :data:`paho` is imported with each of those modules replaced, for paho's import only, by a
:class:`Deferred` stand-in: an empty module whose missing attributes are read from the real module, imported
at that moment (``importlib.import_module``: thread-safe, so paho's network thread and the main thread may
both be first). Nothing is copied into the stand-in, so the real module stays the one truth (monkeypatching
it works). After paho's import the stand-ins are taken out of ``sys.modules``: every other ``import ssl`` gets
the real module, as usual. A module that is already imported, or that does not exist (paho then sees the
``ImportError`` it handles), is not deferred; nor is anything when paho is already imported.
``tests/transports/test_deferred.py`` checks that a fresh process running the agent's imports has none of
them, and a TLS round trip through such a process. (The edge side's own hashing does without ``hashlib``:
``edgewatch.bundle.digests``.)

``importlib.util.LazyLoader`` was not used: on Python 3.11 its first attribute access is not thread-safe
(another thread can see the half-executed module), and it would hand the lazy module to every importer.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: what paho-mqtt imports at module level but a plain ``mqtt://`` connection does not use
PAHO_DEFERRED = ("ssl", "urllib.request", "hashlib")

#: Exception classes paho names in ``except`` clauses on every connection, TLS or not, and the extension
#: module that defines them: while that module is not loaded, no such exception can have been raised, so
#: the clause can be given a class that matches nothing instead of importing ``ssl`` to learn that.
NOT_RAISED_YET = {"ssl": ("_ssl", frozenset({"SSLWantReadError", "SSLWantWriteError"}))}

_lock = threading.Lock()


class _NotRaisedYet(Exception):
    """An exception class no code raises: what an ``except ssl.SSLWantReadError`` compares against while
    ``_ssl`` (hence every SSL socket and SSL exception) does not exist in this process."""


class Deferred(types.ModuleType):
    """Stands in for the module of the same name: a missing attribute is read from the real module, which
    is imported then (once; later reads find it in ``sys.modules``) -- except an exception class in
    :data:`NOT_RAISED_YET` while its defining module is not loaded."""

    def __getattr__(self, attr: str) -> Any:
        defining, names = NOT_RAISED_YET.get(self.__name__, ("", frozenset()))
        if attr in names and defining not in sys.modules:
            return _NotRaisedYet  # paho's socket read/write hit BlockingIOError on a plain socket
        return getattr(load(self.__name__), attr)


def load(name: str) -> types.ModuleType:
    """The real module ``name`` (imported now if it was not), never its stand-in."""
    with _lock:
        if isinstance(sys.modules.get(name), Deferred):
            del sys.modules[name]  # still inside :func:`deferring`: import the real one
    return importlib.import_module(name)


@contextmanager
def deferring(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, ``import NAME`` gives a :class:`Deferred` stand-in for every one of ``names`` that is
    not imported yet and exists; the stand-ins leave ``sys.modules`` at the end (a submodule's stand-in stays
    its package's attribute until the real submodule is imported and replaces it)."""
    placed: list[str] = []
    with _lock:
        for name in names:
            if name in sys.modules or importlib.util.find_spec(name) is None:
                continue
            stand_in = Deferred(name)
            sys.modules[name] = stand_in
            package, _, child = name.rpartition(".")
            if package:  # ``import urllib.request`` binds ``urllib``; paho then reads ``urllib.request``
                setattr(sys.modules[package], child, stand_in)
            placed.append(name)
    try:
        yield
    finally:
        with _lock:
            for name in placed:
                if isinstance(sys.modules.get(name), Deferred):
                    del sys.modules[name]


with deferring(PAHO_DEFERRED if "paho.mqtt.client" not in sys.modules else ()):
    import paho.mqtt.client as paho

__all__ = ["PAHO_DEFERRED", "Deferred", "deferring", "load", "paho"]
