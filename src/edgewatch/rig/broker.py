"""A private Mosquitto broker on a free loopback port, in a temporary directory.

Usage::

    with MosquittoBroker() as broker:
        client.connect(broker.host, broker.port)
        broker.stop()      # the broker goes away (clients see a lost connection)
        broker.start()     # ... and comes back on the SAME port

The broker runs with ``persistence false``, so a restart loses retained messages and sessions, like a
broker that crashed. Its log (``log_type all``; ``log=False``: none, for measurements) is written to
``broker.log_path``; ``broker.log()`` returns it, which is handy in assertion messages.

``find_mosquitto()`` returns the binary or ``None``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DEFAULT_BINARY = "/usr/sbin/mosquitto"


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return shutil.which("mosquitto")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class MosquittoBroker:
    """A mosquitto process owned by its caller; a context manager that starts and cleans it up."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        binary: str | None = None,
        port: int | None = None,
        allow_anonymous: bool = True,
        extra_conf: str = "",
        log: bool = True,
    ) -> None:
        self.binary = binary or find_mosquitto() or DEFAULT_BINARY
        self.port = port or free_port(self.host)
        self._tmp = Path(tempfile.mkdtemp(prefix="edgewatch-mosquitto-"))
        self.conf_path = self._tmp / "mosquitto.conf"
        self.log_path = self._tmp / "mosquitto.log"
        self.conf_path.write_text(
            f"listener {self.port} {self.host}\n"
            f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
            "persistence false\n"
            + ("log_dest stderr\nlog_type all\nconnection_messages true\n" if log else "log_dest none\n")
            + ("user root\n" if os.geteuid() == 0 else "")
            + extra_conf,
            # as root, mosquitto would switch to user "mosquitto", which cannot read the test's files
            encoding="utf-8",
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker (again) on the same port; return once the port accepts connections."""
        if self.running:
            return
        deadline = time.monotonic() + timeout
        while True:
            log = open(self.log_path, "ab")  # the child process writes it
            try:
                self._proc = subprocess.Popen(
                    [self.binary, "-c", str(self.conf_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            finally:
                log.close()
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break  # exited: the port may still be held by a closing socket; retry
                if port_accepts(self.host, self.port):
                    return
                time.sleep(0.02)
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 5.0, *, kill: bool = False) -> None:
        """Stop the broker (SIGTERM, then SIGKILL; ``kill=True``: SIGKILL at once, losing whatever it had
        buffered); clients see their connection drop."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def freeze(self) -> None:
        """SIGSTOP the broker: connections stay open but nothing is read or acknowledged."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
