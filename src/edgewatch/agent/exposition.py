"""The agent's Prometheus metrics beyond its counters: how Grafana and alert rules watch it.

* ``edgewatch_latency_seconds`` -- a histogram of every reading's arrival-to-scored latency (quantiles in
  PromQL: ``histogram_quantile(0.99, rate(edgewatch_latency_seconds_bucket[5m]))``);
* ``edgewatch_build_info{version, python, model_id}`` -- always 1, the labels say what runs;
* per device (label ``device``): ``edgewatch_device_score`` and ``edgewatch_device_threshold`` of its last
  scored reading, ``edgewatch_device_alert_active``, ``edgewatch_device_last_reading_timestamp_seconds`` (its
  last accepted reading's own time), ``edgewatch_device_silent`` and ``edgewatch_device_maintenance``;
* ``edgewatch_silent_events_total``, ``edgewatch_commands_total{result}``;
* the process, under the names Prometheus' own clients use: ``process_cpu_seconds_total``,
  ``process_resident_memory_bytes``, ``process_virtual_memory_bytes``, ``process_start_time_seconds``,
  ``process_open_fds``, ``process_max_fds``.

The dashboard and the alert rules in ``deploy/`` use only these and the counters of
:func:`edgewatch.agent.service.metric_samples` (a test checks it).
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from edgewatch import __version__
from edgewatch.agent.metrics import Sample

if TYPE_CHECKING:
    from edgewatch.agent.loop import AgentLoop

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
STARTED = time.time()  # the agent process imports this at start


def agent_samples(loop: AgentLoop) -> Iterator[Sample]:
    """Everything the module docstring lists, read from the loop (the metrics server's thread; reads only)."""
    yield from loop.stats.latency_samples()
    yield Sample(
        "edgewatch_build_info",
        "gauge",
        "What runs: edgewatch version, Python, the model in use (always 1).",
        1,
        (("version", __version__), ("python", platform.python_version()), ("model_id", loop.settings.model_id)),
    )
    yield from device_samples(loop)
    if loop.silence is not None:
        yield Sample("edgewatch_silent_events_total", "counter", "Devices found silent.", loop.silence.silent_total)
    if loop.controls is not None:
        help = "Operator commands, by result."
        yield Sample(
            "edgewatch_commands_total", "counter", help, loop.controls.accepted_total, (("result", "accepted"),)
        )
        yield Sample(
            "edgewatch_commands_total", "counter", help, loop.controls.rejected_total, (("result", "rejected"),)
        )
    yield from process_samples()


def device_samples(loop: AgentLoop) -> Iterator[Sample]:
    """One series per device and metric, grouped by metric as the exposition format wants."""
    devices = dict(loop.pipeline.devices)  # a copy: the loop thread may add devices meanwhile
    scores = dict(loop.last_scores)
    families: dict[tuple[str, str], list[Sample]] = {}
    for name in sorted(devices):
        dev = devices[name]
        score, threshold = scores.get(name, (None, None))
        for metric, help, value in (
            ("edgewatch_device_score", "Score of the device's last scored reading.", score),
            ("edgewatch_device_threshold", "Threshold its last reading was judged against.", threshold),
            ("edgewatch_device_alert_active", "1 while the device has an active alert.", int(dev.alert.active)),
            (
                "edgewatch_device_last_reading_timestamp_seconds",
                "Time (its own timestamp, epoch seconds) of the device's last accepted reading.",
                dev.last_ts,
            ),
            ("edgewatch_device_silent", "1 while the device is silent.", int(dev.silence.silent)),
            ("edgewatch_device_maintenance", "1 while the device is in maintenance.", int(dev.operator.maintenance)),
        ):
            families.setdefault((metric, help), []).append(Sample(metric, "gauge", help, value, (("device", name),)))
    for samples in families.values():
        yield from samples


def process_samples() -> Iterator[Sample]:
    times = os.times()
    yield Sample("process_cpu_seconds_total", "counter", "User and system CPU time spent.", times.user + times.system)
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            size, resident = (int(x) * _PAGE for x in handle.read().split()[:2])
        yield Sample("process_virtual_memory_bytes", "gauge", "Virtual memory size.", size)
        yield Sample("process_resident_memory_bytes", "gauge", "Resident memory size.", resident)
        yield Sample("process_open_fds", "gauge", "Open file descriptors.", len(os.listdir("/proc/self/fd")))
    except OSError:  # not Linux: no /proc
        pass
    yield Sample(
        "process_max_fds", "gauge", "Maximum open file descriptors.", resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    )
    yield Sample("process_start_time_seconds", "gauge", "Start time of the process (epoch seconds).", STARTED)
