"""The agent's Prometheus metrics, and the Grafana dashboard and alert rules shipped in deploy/: the exposition
is valid (promtool), the rules are valid (promtool), and every metric they name is one the agent exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from edgewatch.agent.controls import Controls
from edgewatch.agent.loop import AgentLoop, LoopSettings
from edgewatch.agent.metrics import family, render
from edgewatch.agent.outbox import Outbox
from edgewatch.agent.service import metric_samples
from edgewatch.agent.watch import SilenceMonitor
from edgewatch.core.operator import ControlsConfig
from edgewatch.core.silence import SilenceConfig
from tests.fakes import reading
from tests.transports.memory import MemoryTransport

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "edgewatch-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "edgewatch-dashboard.json"
T0 = 1_767_225_600.0
PROMETHEUS_OWN = {"up"}  # what Prometheus itself records about a scrape


def _promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        message = "promtool is not installed (apt-get install prometheus; ./setup.sh --dev does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


@pytest.fixture
def loop(tmp_path: Path, make_pipeline):  # type: ignore[no-untyped-def]
    transport = MemoryTransport()
    transport.start()
    agent = AgentLoop(
        LoopSettings(agent_id="pi-7", model_id="dense-ae-0badc0de"),
        pipeline=make_pipeline(),
        transport=transport,
        outbox=Outbox(tmp_path / "outbox.db"),
        controls=Controls(ControlsConfig()),
        silence=SilenceMonitor(SilenceConfig()),
    )
    values = [0.1] * 4 + [5.0] * 3
    now = time.time()
    for device in ("pump-1", "pump-2"):
        for i, v in enumerate(values):
            transport.deliver(f"plant/{device}/sensors", reading(T0 + i, v), arrival_time=now - 7 + i)
    transport.deliver("plant/pump-2/sensors", b"{not json", arrival_time=now)  # a rejected input, counted by reason
    agent.step(0.01)
    yield agent
    agent.outbox.close()


def _exported(loop: AgentLoop) -> set[str]:
    return {family(sample) for sample in metric_samples(loop) if sample.value is not None}


def test_the_exposition_is_valid_for_promtool(loop: AgentLoop) -> None:
    text = render(metric_samples(loop))
    done = subprocess.run([_promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr + text


def test_latency_is_a_histogram_of_every_reading(loop: AgentLoop) -> None:
    text = render(metric_samples(loop))
    assert "# TYPE edgewatch_latency_seconds histogram" in text
    buckets = [float(v) for v in re.findall(r'edgewatch_latency_seconds_bucket\{le="[^"]+"\} (\S+)', text)]
    assert buckets == sorted(buckets) and buckets[-1] == loop.stats.readings_total == 15
    assert f"edgewatch_latency_seconds_count {loop.stats.readings_total}" in text
    assert 'edgewatch_latency_seconds_bucket{le="+Inf"}' in text


def test_build_info_per_device_series_and_process_metrics(loop: AgentLoop) -> None:
    text = render(metric_samples(loop))
    assert re.search(r'edgewatch_build_info\{version="[^"]+",python="[^"]+",model_id="dense-ae-0badc0de"\} 1', text)
    for device in ("pump-1", "pump-2"):
        assert f'edgewatch_device_alert_active{{device="{device}"}} 1' in text
        assert (
            f'edgewatch_device_last_reading_timestamp_seconds{{device="{device}"}} {T0 + 6:.1f}'.replace(".0", "")
            in text
        )
        assert re.search(rf'edgewatch_device_score\{{device="{device}"\}} \d', text)
        assert f'edgewatch_device_silent{{device="{device}"}} 0' in text
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"):
        assert re.search(rf"^{name} \d", text, re.M), name


def test_the_alert_rules_pass_promtool() -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout
    names = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert names == {
        "EdgewatchAgentDown",
        "EdgewatchMqttDisconnected",
        "EdgewatchOutboxGrowing",
        "EdgewatchDeviceSilent",
        "EdgewatchLatencyP99High",
    }


def _named_metrics(expressions: list[str]) -> set[str]:
    names = set()
    for expr in expressions:
        for name in re.findall(r"\b(up|edgewatch_[a-z0-9_]+|process_[a-z0-9_]+)\b", expr):
            names.add(re.sub(r"_(bucket|sum|count)$", "", name) if "latency" in name else name)
    return names


def test_every_metric_the_dashboard_and_rules_name_is_exported(loop: AgentLoop) -> None:
    rules = yaml.safe_load(RULES.read_text())
    rule_exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    panel_exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    variables = [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    named = _named_metrics(rule_exprs + panel_exprs + variables)
    assert len(named) >= 15
    missing = named - _exported(loop) - PROMETHEUS_OWN
    assert not missing, f"named in deploy/ but not exported by the agent: {sorted(missing)}"


def test_the_histogram_counts_the_same_one_by_one_and_by_batch() -> None:
    import numpy as np

    from edgewatch.agent.metrics import LATENCY_BUCKETS, Histogram

    values = np.array([0.0005, 0.001, 0.0011, 0.02, 0.3, 7.0, 11.0] * 5)
    one, many = Histogram(), Histogram()
    for v in values.tolist():
        one.observe(v)
    many.observe_many(values)
    assert one.counts == many.counts and one.total == pytest.approx(many.total)
    assert one.counts[0] == 10 and one.counts[len(LATENCY_BUCKETS)] == 5  # le=0.001 holds 0.001; +Inf holds 11 s
