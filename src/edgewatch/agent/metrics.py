"""Optional Prometheus metrics: text exposition format 0.0.4 over HTTP, from the standard library only.

``MetricsServer(host, port, collect)`` serves ``GET /metrics`` from a daemon thread; ``collect()``
returns the samples to expose and must be thread-safe (``AgentStats`` is). No prometheus_client needed.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

log = logging.getLogger("edgewatch.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


#: upper bounds (seconds) of the latency histogram's buckets: 1 ms to 10 s, as Prometheus' client defaults
#: reach down to 5 ms and the agent's own target is 10 ms at p99
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Histogram:
    """A Prometheus histogram's counts (one per bucket, plus +Inf) and sum; not thread-safe by itself."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def observe_many(self, values: Any) -> None:
        """Observe a numpy array of values at once."""
        import numpy as np

        found = np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=len(self.counts))
        for i, n in enumerate(found.tolist()):
            self.counts[i] += n
        self.total += float(values.sum())

    def samples(self, name: str, help: str) -> list[Sample]:
        """``<name>_bucket{le=...}`` (cumulative), ``<name>_sum`` and ``<name>_count``."""
        out, running = [], 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += count
            le = "+Inf" if math.isinf(bound) else repr(bound)
            out.append(Sample(f"{name}_bucket", "histogram", help, running, (("le", le),)))
        out.append(Sample(f"{name}_sum", "histogram", help, self.total))
        out.append(Sample(f"{name}_count", "histogram", help, running))
        return out


def family(sample: Sample) -> str:
    """The metric family a sample belongs to (a histogram's ``_bucket``/``_sum``/``_count`` share one)."""
    if sample.kind == "histogram":
        for suffix in HISTOGRAM_SUFFIXES:
            if sample.name.endswith(suffix):
                return sample.name[: -len(suffix)]
    return sample.name


class Sample(NamedTuple):
    """One metric sample; ``kind`` is ``counter``, ``gauge`` or ``histogram`` (the TYPE of its family)."""

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
        name = family(s)
        if name not in seen:
            seen.add(name)
            lines.append(f"# HELP {name} {s.help}")
            lines.append(f"# TYPE {name} {s.kind}")
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
