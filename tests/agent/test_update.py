"""Model updates through a real Mosquitto, the agent in its own process, a real trained model:

* a signed bundle deployed over MQTT is shadowed, swapped between two batches (every reading scored exactly
  once, by one model, proven by the readings' sequence numbers) and used for the next alert, its id in the
  alert, the score stream, the stats and Home Assistant discovery;
* a tampered, unsigned, wrong-key, wrong-features, probe-failing and too-alerting bundle, and an oversized,
  partial and corrupt delivery, are each refused with their reason while the old model scores on without a gap;
* a rollback command restores the previous model; a bundle that fails its probe after a restart is rolled
  back by the agent itself; SIGHUP and the ``reload`` command try a bundle directory on the device;
* SIGKILL at any moment of an update leaves the agent on one complete model after a restart.

The "new" models are variants of the session's real bundle made by editing its manifest and signing it again
(another model id, another threshold, a renamed feature, wrong probe scores), so no second model is trained.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgewatch.agent.transfer import chunk_messages
from edgewatch.bundle.package import pack
from edgewatch.bundle.signing import SIGNATURE_FILE
from edgewatch.bundle.slots import BundleSlots, bundle_digest, read_bundle_files
from edgewatch.cli import main
from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Publisher
from tests.agent.build_real_bundle import FEATURES, sensor_rows
from tests.agent.test_real_model import T0, _spawn_agent, _stop_agent

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
pytest.importorskip("cryptography")

AGENT = "edge-1"
STATUS = f"edgewatch/{AGENT}/update/status"
FINAL = ("swapped", "rolled_back", "refused", "aborted")


# -- bundles --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("keys")
    for name in ("trusted", "stranger"):
        assert main(["keygen", str(root / name)]) == 0
    return {"trusted": root / "trusted", "stranger": root / "stranger"}


def variant(src: Path, dst: Path, key: Path | None, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of bundle ``src`` with its manifest edited, signed with ``key`` (None: unsigned)."""
    shutil.copytree(src, dst)
    (dst / SIGNATURE_FILE).unlink(missing_ok=True)
    if edit is not None:
        manifest = json.loads((dst / "manifest.json").read_text())
        edit(manifest)
        (dst / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if key is not None:
        assert main(["sign", str(dst), "--key", f"{key}.key"]) == 0
    return dst


def renamed(model_id: str) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["model_id"] = model_id

    return edit


def scaled_thresholds(model_id: str, factor: float) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["model_id"] = model_id
        for artifact in manifest["artifacts"]:
            artifact["threshold"]["value"] *= factor
            artifact["probe_scores"] = list(artifact["probe_scores"])

    return edit


# -- the agent and its readings ---------------------------------------------------------------------------
def reading(i: int, anomalous: bool = False) -> bytes:
    row = sensor_rows(7000 + i, 1)[0]
    if anomalous:
        row[0] += 60.0
        row[3] -= 40.0
    return json.dumps({"ts": T0 + i, "values": dict(zip(FEATURES, map(float, row), strict=True))}).encode()


class Stream:
    """Readings ``ts = T0 + i`` of device ``pump-1``, published at ``rate_hz`` from a thread until stopped."""

    def __init__(self, url: str, rate_hz: float = 200.0, start: int = 0) -> None:
        self.publisher = Publisher(url)
        self.next = start
        self._stop = threading.Event()
        self._rate = rate_hz
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.publisher.publish("plant/pump-1/sensors", reading(self.next), qos=1)
            self.next += 1
            time.sleep(1.0 / self._rate)

    def stop(self) -> int:
        """Stop publishing; the number of readings sent."""
        self._stop.set()
        self._thread.join()
        self.publisher.close()
        return self.next


class Agent:
    def __init__(self, tmp_path: Path, broker: Any, listen: Any, bundle: Path, keys: dict[str, Path], **update: Any):
        settings = {"trusted_keys": [f"{keys['trusted']}.pub"], "shadow_readings": 60, **update}
        self.config = write_agent_config(
            tmp_path / "agent.toml",
            bundle=bundle,
            url=broker.url,
            state_dir=tmp_path / "state",
            sections={
                "mqtt": {"qos": 1},
                "health": {
                    "agent_id": AGENT,
                    "thermal_file": "/nonexistent",
                    "score_stream": True,
                    "score_every_n": 1,
                    "stats_interval_s": 1.0,
                },
                "alerts": {"k": 1, "n": 1, "min_active_s": 0.0},
                "homeassistant": {"enabled": True},
                "update": settings,
            },
        )
        self.broker, self.listen = broker, listen
        self.store = tmp_path / "state" / "bundles"
        self.proc: Any = None

    def start(self) -> list[dict[str, Any]]:
        status = self.listen(STATUS)
        self.proc = _spawn_agent(self.config)
        try:
            return wait_status(status, lambda s: s["step"] in ("started", "rolled_back"), timeout=30)
        except TimeoutError:
            raise AssertionError(f"the agent did not start:\n{self.stop()}") from None

    def stop(self) -> str:
        return _stop_agent(self.proc)


def statuses(listener: Any) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in listener.messages if not m.retain]


def wait_status(
    listener: Any, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> list[dict[str, Any]]:
    listener.wait_for(lambda ms: any(predicate(json.loads(m.payload)) for m in ms if not m.retain), timeout=timeout)
    time.sleep(0.3)  # SUBACK of the agent's subscriptions, which it sends right after its first status
    return statuses(listener)


def scores(listener: Any) -> list[tuple[float, str]]:
    return [(p["ts"], p["model_id"]) for p in (json.loads(m.payload) for m in listener.messages)]


def deploy(broker: Any, bundle: Path, *extra: str) -> int:
    return main(["deploy", str(bundle), "--broker", broker.url, "--agent", AGENT, "--timeout", "60", *extra])


def send_raw(broker: Any, messages: list[bytes]) -> None:
    publisher = Publisher(broker.url)
    for message in messages:
        publisher.publish(f"edgewatch/{AGENT}/update/bundle", message, qos=1).wait_for_publish(10)
    publisher.close()


@pytest.fixture
def agent_factory(tmp_path: Path, broker, listen, real_bundle: Path, keys) -> Iterator[Callable[..., Agent]]:  # type: ignore[no-untyped-def]
    agents: list[Agent] = []

    def make(bundle: Path | None = None, **update: Any) -> Agent:
        configured = bundle or variant(real_bundle, tmp_path / "configured", keys["trusted"])
        agents.append(Agent(tmp_path, broker, listen, configured, keys, **update))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.proc is not None:
            agent.stop()


def assert_each_reading_scored_once(received: list[tuple[float, str]], sent: int, models: list[str]) -> None:
    """Every reading sent was scored exactly once, and the model changed at most as ``models`` says, in order."""
    stamps = [ts for ts, _ in received]
    assert sorted(stamps) == [T0 + i for i in range(sent)], "a reading was lost or scored twice"
    runs = [model for i, (_, model) in enumerate(sorted(received)) if i == 0 or model != sorted(received)[i - 1][1]]
    assert runs == models


# -- tests ----------------------------------------------------------------------------------------------
def test_a_signed_bundle_is_shadowed_swapped_between_batches_and_used_for_the_next_alert(
    tmp_path: Path, broker, listen, real_bundle: Path, keys, agent_factory, capsys
) -> None:
    agent = agent_factory()
    first = agent.start()
    old_id = first[-1]["active"]
    new = variant(real_bundle, tmp_path / "new", keys["trusted"], renamed("dense-ae-retrained"))
    status = listen(STATUS)
    score = listen("edgewatch/pump-1/score")
    stats = listen(f"edgewatch/{AGENT}/stats")
    discovery = listen("homeassistant/#")
    stream = Stream(broker.url)
    try:
        time.sleep(0.5)
        assert deploy(broker, new) == 0
        time.sleep(0.5)
    finally:
        sent = stream.stop()
    score.wait_for(lambda ms: len(ms) >= sent, timeout=30)
    steps = [s["step"] for s in statuses(status)]
    assert steps[:3] == ["received", "verified", "shadowing"] and steps[-1] == "swapped", steps
    swapped = statuses(status)[-1]
    assert swapped["active"] == "dense-ae-retrained"
    assert swapped["replaced"] == old_id and swapped["previous"] is not None
    figures = swapped["figures"]
    assert figures["new"]["scored"] >= 60 and figures["live"]["scored"] == figures["new"]["scored"]
    assert_each_reading_scored_once(scores(score), sent, [old_id, "dense-ae-retrained"])
    alerts = listen("edgewatch/pump-1/alert")
    publisher = Publisher(broker.url)
    publisher.publish("plant/pump-1/sensors", reading(sent, anomalous=True), qos=1)
    publisher.close()
    raised = json.loads(alerts.wait_for(lambda ms: len(ms) >= 1, timeout=10)[0].payload)
    assert raised["state"] == "raised" and raised["model_id"] == "dense-ae-retrained"
    stats.wait_for(lambda ms: any(json.loads(m.payload)["model_id"] == "dense-ae-retrained" for m in ms), timeout=5)
    configs = [m.payload.decode() for m in discovery.messages if m.payload]
    assert any("dense-ae-retrained" in c for c in configs)
    output = agent.stop()
    assert agent.proc.returncode == 0, output
    capsys.readouterr()
    assert main(["info", "--store", str(agent.store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["active"]["model_id"], shown["previous"]["model_id"]) == ("dense-ae-retrained", old_id)
    assert shown["active"]["signer"] == shown["previous"]["signer"] is not None


def test_bad_bundles_and_deliveries_are_refused_with_their_reason_and_scoring_goes_on(
    tmp_path: Path, broker, listen, real_bundle: Path, keys, agent_factory
) -> None:
    agent = agent_factory(max_bundle_bytes=200_000, transfer_timeout_s=1.0, max_rate_increase=0.05)
    old_id = agent.start()[-1]["active"]
    trusted, stranger = keys["trusted"], keys["stranger"]

    def rename_feature(manifest: dict[str, Any]) -> None:
        manifest["model_id"] = "wrong-features"
        manifest["features"][5] = "s9"
        manifest["feature_stats"][5]["name"] = "s9"

    def wrong_probe(manifest: dict[str, Any]) -> None:
        manifest["model_id"] = "probe-fails"
        for artifact in manifest["artifacts"]:
            artifact["probe_scores"] = [s * 3 + 1 for s in artifact["probe_scores"]]

    tampered = variant(real_bundle, tmp_path / "tampered", trusted, renamed("tampered"))
    manifest = tampered / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"tampered"', '"tampered-2"'))
    unsigned = variant(real_bundle, tmp_path / "unsigned", None, renamed("unsigned"))
    bundles = {
        "bad_signature": tampered,
        "unsigned": unsigned,
        "untrusted_key": variant(real_bundle, tmp_path / "stranger", stranger, renamed("stranger")),
        "wrong_features": variant(real_bundle, tmp_path / "features", trusted, rename_feature),
        "probe_failed": variant(real_bundle, tmp_path / "probe", trusted, wrong_probe),
        "alert_rate": variant(real_bundle, tmp_path / "alerty", trusted, scaled_thresholds("alerty", 0.01)),
    }
    status = listen(STATUS)
    score = listen("edgewatch/pump-1/score")
    stream = Stream(broker.url)
    try:
        for reason, bundle in bundles.items():
            n = len(statuses(status))
            send_raw(broker, chunk_messages(pack(bundle), f"t-{reason}"))  # bypasses deploy's own checks
            refused = wait_status(status, lambda s, r=reason: s["step"] == "refused" and s.get("reason") == r)
            assert [s for s in refused[n:] if s["step"] == "swapped"] == []
        packed = pack(bundles["probe_failed"])
        deliveries = {
            "oversized": chunk_messages(packed + b"x" * 300_000, "t-big"),
            "incomplete": chunk_messages(packed, "t-part", chunk_bytes=4096)[:2],
            "corrupt": [chunk_messages(packed, "t-bad")[0][:-1] + b"?"],
            "malformed": [b"hello"],
        }
        for reason, messages in deliveries.items():
            send_raw(broker, messages)
            wait_status(status, lambda s, r=reason: s["step"] == "refused" and s.get("reason") == r)
    finally:
        sent = stream.stop()
    score.wait_for(lambda ms: len(ms) >= sent, timeout=30)
    assert_each_reading_scored_once(scores(score), sent, [old_id])
    by_reason = {s.get("reason"): s for s in statuses(status) if s["step"] == "refused"}
    assert set(by_reason) == set(bundles) | set(deliveries)
    assert "not signed" in by_reason["unsigned"]["message"]
    assert "missing ['s5'], new ['s9']" in by_reason["wrong_features"]["message"]
    assert "does not reproduce" in by_reason["probe_failed"]["message"]
    alerty = by_reason["alert_rate"]["figures"]
    assert alerty["new"]["anomalous_rate"] > alerty["live"]["anomalous_rate"] + 0.05
    assert all(s["active"] == old_id for s in statuses(status))
    output = agent.stop()
    assert agent.proc.returncode == 0, output
    assert sorted(p.name for p in agent.store.iterdir() if p.is_dir()) == [BundleSlots(agent.store).active.name]


def test_rollback_on_command_and_by_itself_after_a_restart_whose_probe_fails(
    tmp_path: Path, broker, listen, real_bundle: Path, keys, agent_factory
) -> None:
    agent = agent_factory()
    old_id = agent.start()[-1]["active"]
    status = listen(STATUS)
    new = variant(real_bundle, tmp_path / "new", keys["trusted"], renamed("dense-ae-v2"))
    assert deploy(broker, new, "--force") == 0
    # deploy returns on the agent's answer; the listener may see that same status a moment later
    swapped = wait_status(status, lambda s: s.get("step") == "swapped")[-1]
    assert swapped["figures"]["forced"] is True
    assert main(["deploy", "--rollback", "--broker", broker.url, "--agent", AGENT, "--timeout", "30"]) == 0
    back = wait_status(status, lambda s: s.get("step") == "rolled_back")[-1]
    assert (back["step"], back["active"], back["replaced"]) == ("rolled_back", old_id, "dense-ae-v2")
    agent.stop()
    # a bundle that passed its checks once but fails its probe on this machine after a restart (say a runtime
    # upgrade): the agent goes back to the previous bundle by itself and says why
    slots = BundleSlots(agent.store)

    def wrong_probe(manifest: dict[str, Any]) -> None:
        manifest["model_id"] = "fails-after-restart"
        for artifact in manifest["artifacts"]:
            artifact["probe_scores"] = [s * 3 + 1 for s in artifact["probe_scores"]]

    broken = variant(real_bundle, tmp_path / "broken", keys["trusted"], wrong_probe)
    slots.activate(slots.install(read_bundle_files(broken)))
    first = agent.start()[-1]
    assert (first["step"], first["reason"], first["active"]) == ("rolled_back", "probe_failed", old_id)
    assert first["automatic"] is True
    agent.stop()


def test_sighup_and_the_reload_command_try_a_bundle_directory_on_the_device(
    tmp_path: Path, broker, listen, real_bundle: Path, keys, agent_factory
) -> None:
    configured = variant(real_bundle, tmp_path / "configured", keys["trusted"])
    agent = agent_factory(configured, shadow_readings=20)
    agent.start()
    status = listen(STATUS)
    shutil.rmtree(configured)
    variant(real_bundle, configured, keys["trusted"], renamed("from-sighup"))
    stream = Stream(broker.url)
    try:
        agent.proc.send_signal(signal.SIGHUP)
        wait_status(status, lambda s: s["step"] in FINAL)
        other = variant(real_bundle, tmp_path / "elsewhere", keys["trusted"], renamed("from-reload"))
        publisher = Publisher(broker.url)
        command = json.dumps({"command": "reload", "path": str(other)}).encode()
        publisher.publish(f"edgewatch/{AGENT}/update/command", command, qos=1)
        publisher.close()
        wait_status(status, lambda s: s["step"] in FINAL and s["active"] == "from-reload")
    finally:
        stream.stop()
    swaps = [s["active"] for s in statuses(status) if s["step"] == "swapped"]
    assert swaps == ["from-sighup", "from-reload"]
    agent.stop()
    # the configured directory did not change since: a restart keeps the deployed model
    assert agent.start()[-1]["active"] == "from-reload"


def test_sigkill_at_any_moment_of_an_update_leaves_one_complete_model_after_restart(
    tmp_path: Path, broker, listen, real_bundle: Path, keys, agent_factory
) -> None:
    agent = agent_factory()
    old_id = agent.start()[-1]["active"]
    models = {old_id}
    for i, kill_at in enumerate(("received", "verified", "shadowing", "swapped")):
        model = f"dense-ae-kill-{i}"
        models.add(model)
        bundle = variant(real_bundle, tmp_path / f"new-{i}", keys["trusted"], renamed(model))
        status = listen(STATUS)
        sender = threading.Thread(target=deploy, args=(broker, bundle, "--force", "--timeout", "3"))
        sender.start()
        status.wait_for(lambda ms, k=kill_at: any(json.loads(m.payload)["step"] == k for m in ms if not m.retain), 30)
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait(10)
        sender.join()
        first = agent.start()[-1]
        assert first["step"] == "started" and first["active"] in models
        slots = BundleSlots(agent.store)
        from edgewatch.bundle import load_bundle

        assert load_bundle(slots.active).manifest.model_id == first["active"]  # complete: every hash checks
    agent.stop()
    assert bundle_digest(read_bundle_files(BundleSlots(agent.store).active))
