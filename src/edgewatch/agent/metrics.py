"""Optional Prometheus metrics: text exposition format 0.0.4 over HTTP, from the standard library only.

``MetricsServer(host, port, collect)`` serves ``GET /metrics`` from a daemon thread; ``collect()``
returns the samples to expose and must be thread-safe (``AgentStats`` is). No prometheus_client needed.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple

log = logging.getLogger("edgewatch.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Sample(NamedTuple):
    """One metric sample; ``kind`` is ``counter`` or ``gauge`` (the TYPE of its family)."""

    name: str
    kind: str
    help: str
    value: float | None
    labels: tuple[tuple[str, str], ...] = ()


def render(samples: Iterable[Sample]) -> str:
    """Prometheus text format: one HELP/TYPE header per metric family, then its samples."""
    lines: list[str] = []
    seen: set[str] = set()
    for s in samples:
        if s.value is None:
            continue
        if s.name not in seen:
            seen.add(s.name)
            lines.append(f"# HELP {s.name} {s.help}")
            lines.append(f"# TYPE {s.name} {s.kind}")
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
        lines.append(f"{s.name}{{{labels}}} {_number(s.value)}" if labels else f"{s.name} {_number(s.value)}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class MetricsServer:
    """``GET /metrics`` on ``host:port`` in a daemon thread; ``port=0`` picks a free port (see ``.port``)."""

    def __init__(self, host: str, port: int, collect: Callable[[], Iterable[Sample]]) -> None:
        # imported here: http.server (and the email package under it) costs RSS, only worth paying
        # when metrics are switched on
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self._collect = collect
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                try:
                    body = render(outer._collect()).encode("utf-8")
                except Exception:  # a scrape must never take the agent down
                    log.exception("collecting metrics failed")
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("metrics: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="edgewatch-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("serving Prometheus metrics on http://%s:%d/metrics", self.host, self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
