"""A tiny TCP proxy between the agent and the broker that can turn into a black hole.

``BlackHoleProxy(target_host, target_port)`` listens on a free loopback port and forwards every connection
to the target, both ways. ``blackhole()`` stops forwarding while keeping every socket open -- the network
path silently swallows packets, as a dead Wi-Fi link or a pulled cable behind a switch does, so neither
side sees a FIN or RST and only MQTT's keepalive can notice. New connections are accepted and left
unanswered. ``heal()`` forwards again, for new connections (it closes the ones of the black-hole time,
whose streams lost bytes). ``cut()`` closes every connection at once (a clean network failure).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

from edgewatch.rig.broker import free_port


class BlackHoleProxy:
    """See the module docstring; a context manager that stops the proxy thread and closes every socket."""

    host = "127.0.0.1"

    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port(self.host)
        self._listener = socket.create_server((self.host, self.port), reuse_port=False)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._swallowed: list[socket.socket] = []
        self._holed = False
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._run, name="blackhole-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def blackhole(self) -> None:
        """Swallow everything from now on, keeping every connection open."""
        with self._lock:
            self._holed = True

    def heal(self) -> None:
        """Forward again: every connection of the black-hole time is closed (bytes were lost both ways, so
        those streams are broken), new ones work."""
        with self._lock:
            self._holed = False
            for sock in list(self._pairs):  # bytes were lost in both directions: these streams are broken
                self._close(sock)
            for sock in self._swallowed:
                with contextlib.suppress(OSError):
                    sock.close()
            self._swallowed.clear()

    def cut(self) -> None:
        """Close every connection now (both ends see it)."""
        with self._lock:
            for sock in list(self._pairs):
                self._close(sock)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                if key.data is None:
                    self._accept()
                    continue
                self._forward(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        with self._lock:
            self.connections += 1
            if self._holed:
                self._swallowed.append(client)  # accepted, never answered
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                return
            for sock in (client, upstream):
                sock.setblocking(False)
            self._pairs[client], self._pairs[upstream] = upstream, client
            self._selector.register(client, selectors.EVENT_READ, "pair")
            self._selector.register(upstream, selectors.EVENT_READ, "pair")

    def _forward(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
            if peer is None:
                return
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close(sock)
                return
            if self._holed:
                return  # swallowed: read and dropped, the socket stays open
            try:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
            except OSError:
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        peer = self._pairs.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._pairs.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s)
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            for sock in list(self._pairs):
                self._close(sock)
            for sock in self._swallowed:
                with contextlib.suppress(OSError):
                    sock.close()
            self._swallowed.clear()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()

    def __enter__(self) -> BlackHoleProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
