"""``edgewatch bench update``: what a model update costs the device.

Two measurements, each against a baseline taken in the same run:

* **the signature verifier's memory** (how the device-side verifier was chosen): three fresh processes import
  what the agent imports (numpy, paho-mqtt, ``edgewatch.agent``) and read a signed manifest; one stops there
  (baseline), one verifies the signature with :mod:`edgewatch.bundle.ed25519` (pure Python, what the agent
  uses), one with ``cryptography``. Peak RSS (VmHWM) over the baseline is what verifying costs; the target is 2 MB.
* **a swap under a stream of ``rate_hz`` readings/s** through a private Mosquitto to the agent process (score
  stream on for every reading): ``seconds`` of baseline, then a signed bundle is deployed (another model id
  on the same network, so both models are resident during the shadow), shadowed for ``shadow_readings``
  readings and swapped, then ``seconds`` more. Every reading carries its sequence number as its timestamp:
  *lost* = sent but never scored, *twice* = scored more than once. The longest pause is the longest gap
  between two consecutive score messages at the listener, during the update and during the baseline phase;
  peak RSS is the agent's VmRSS sampled every 20 ms in each phase (and VmHWM at the end).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info, target

TARGET_VERIFY_RSS_KB = 2048
T0 = 1_767_225_600.0

_BASE = r"""
import sys, time
import numpy, paho.mqtt.client, edgewatch.agent.service, edgewatch.bundle.signing as signing
bundle, key, how = sys.argv[1], sys.argv[2], sys.argv[3]
manifest = open(bundle + "/manifest.json", "rb").read()
keys = signing.load_public_keys([key])
if how == "ed25519":
    ok = signing.verify_signature(bundle, keys) is not None
elif how == "cryptography":
    import base64, json
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    sig = base64.b64decode(json.load(open(bundle + "/signature.json"))["signature"])
    Ed25519PublicKey.from_public_bytes(keys[0].raw).verify(sig, manifest)
    ok = True
else:
    ok = None
fresh_report(time.time(), ok=ok)
"""


def _sign_variant(src: Path, dst: Path, key: Path, model_id: str | None) -> Path:
    from edgewatch.cli import main

    shutil.copytree(src, dst)
    (dst / "signature.json").unlink(missing_ok=True)
    if model_id is not None:
        manifest = json.loads((dst / "manifest.json").read_text())
        manifest["model_id"] = model_id
        (dst / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if main(["sign", str(dst), "--key", f"{key}.key"]) != 0:
        raise RuntimeError(f"signing {dst} failed")
    return dst


def verifier_memory(bundle: Path, key: Path, repeats: int = 3) -> dict[str, Any]:
    """Peak RSS of a fresh agent-like process without verifying, verifying with ed25519.py, with cryptography."""
    from edgewatch.bench.fresh_process import run_fresh_process

    out: dict[str, Any] = {}
    for how in ("none", "ed25519", "cryptography"):
        runs = [run_fresh_process(_BASE, [str(bundle), f"{key}.pub", how]).report for _ in range(repeats)]
        out[how] = {"vmhwm_kb_median": int(np.median([r["vmhwm_kb"] for r in runs])), "verified": runs[0]["ok"]}
    base = out["none"]["vmhwm_kb_median"]
    for how in ("ed25519", "cryptography"):
        out[how]["over_baseline_kb"] = out[how]["vmhwm_kb_median"] - base
    return out


def _rss(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                fields[name] = int(value.split()[0])
    return fields


def run(
    *,
    bundle: str | None = None,
    features: int = 16,
    train_rows: int = 20_000,
    seed: int = 0,
    rate_hz: float = 1000.0,
    seconds: float = 5.0,
    shadow_readings: int = 2000,
    say: Any = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.agent.transfer import chunk_messages
    from edgewatch.bench.agent import Listener, Publisher
    from edgewatch.bench.runtime import bundle_or_default
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.package import pack
    from edgewatch.cli import main
    from edgewatch.rig.agent import start_agent, stop_agent, write_agent_config
    from edgewatch.rig.broker import MosquittoBroker
    from edgewatch.rig.clients import Listener as StatusListener
    from edgewatch.rig.clients import Publisher as Sender
    from edgewatch.sim import simulate_normal

    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-update-") as tmp_name:
        tmp = Path(tmp_name)
        source = bundle_or_default(bundle, tmp / "trained", rows=train_rows, features=features, seed=seed, say=say)
        if main(["keygen", str(tmp / "key")]) != 0:
            raise RuntimeError("keygen failed")
        live = _sign_variant(source, tmp / "live", tmp / "key", None)
        new = _sign_variant(source, tmp / "new", tmp / "key", "bench-new-model")
        manifest = load_bundle(live).manifest
        result: dict[str, Any] = {
            "benchmark": "update",
            "machine": machine_info(),
            "parameters": {
                "bundle": str(bundle) if bundle else f"default dense-ae trained on {train_rows} simulated rows",
                "features": manifest.n_features,
                "rate_hz": rate_hz,
                "seconds_before_and_after": seconds,
                "shadow_readings": shadow_readings,
                "new_model": "the same network under another model id, signed (both resident during the shadow)",
            },
        }
        say("verifier memory: fresh processes without verifying, with ed25519.py, with cryptography ...")
        result["verifier_memory"] = verifier_memory(live, tmp / "key")
        say(json.dumps(result["verifier_memory"]))

        spread = np.array([s.std for s in manifest.feature_stats])
        sim = simulate_normal(n_rows=5000, n_features=manifest.n_features, seed=seed + 7)
        broker = MosquittoBroker(log=False, extra_conf="max_queued_messages 100000\n")
        broker.start()
        agent = listener = publisher = statuses = None
        try:
            config = write_agent_config(
                tmp / "agent.toml",
                bundle=live,
                url=broker.url,
                state_dir=tmp / "state",
                sections={
                    "health": {
                        "agent_id": "bench",
                        "thermal_file": "/nonexistent",
                        "score_stream": True,
                        "score_every_n": 1,
                        "stats_interval_s": 3600.0,
                    },
                    "thresholds": {"mode": "fixed"},
                    "update": {
                        "trusted_keys": [str(tmp / "key.pub")],
                        "shadow_readings": shadow_readings,
                        "max_rate_increase": 1.0,
                    },
                },
            )
            listener = Listener(broker.url, ["edgewatch/+/score"])
            steps: list[tuple[str, float]] = []
            statuses = StatusListener(
                broker.url,
                "edgewatch/bench/update/status",
                on_message=lambda _t, p, now: steps.append((json.loads(p)["step"], now)),
                keep=False,
            )
            publisher = Publisher(broker.url, sim.values, spread, seed)
            agent = start_agent(config, tmp / "agent.log")
            deadline = time.monotonic() + 30
            while not any(s == "started" for s, _ in steps):
                if time.monotonic() > deadline or agent.poll() is not None:
                    raise RuntimeError(f"the agent did not start: {(tmp / 'agent.log').read_text()[-2000:]}")
                time.sleep(0.05)
            time.sleep(0.5)
            samples: list[tuple[float, int]] = []
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    samples.append((time.time(), _rss(agent.pid)["VmRSS"]))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            sent = 0
            deploy_at: list[float] = []

            def send(i: int, _now: float) -> bytes:
                return publisher.packet("pump-1", T0 + (sent + i) * 0.001)

            say(f"streaming {rate_hz:.0f} readings/s: {seconds:g} s baseline ...")
            sent += publisher.paced(rate_hz, seconds, send, slot_s=1.0 / rate_hz).messages

            def deploy() -> None:
                deploy_at.append(time.time())
                sender = Sender(broker.url)
                for message in chunk_messages(pack(new), "bench"):
                    sender.publish("edgewatch/bench/update/bundle", message, qos=1)
                sender.close()

            threading.Thread(target=deploy, daemon=True).start()
            say("deployed; streaming through the shadow and the swap ...")
            during = shadow_readings / rate_hz + 2 * seconds
            sent += publisher.paced(rate_hz, during, send, slot_s=1.0 / rate_hz).messages
            sampling.set()
            sampler.join()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with listener.lock:
                    if len(listener.scores.get("pump-1", [])) >= sent:
                        break
                time.sleep(0.1)
            time.sleep(1.0)
            result["agent_vmhwm_kb"] = _rss(agent.pid)["VmHWM"]
        finally:
            for client in (publisher, listener, statuses):
                if client is not None:
                    client.close()
            if agent is not None:
                stop_agent(agent)
            broker.stop()
        result["steps"] = [
            {"step": s, "seconds_after_deploy": round(t - deploy_at[0], 3)}
            for s, t in steps
            if deploy_at and t >= deploy_at[0]
        ]
        result.update(_swap_figures(listener.scores.get("pump-1", []), sent, samples, steps, deploy_at[0], seconds))
        say(json.dumps({k: result[k] for k in ("readings", "pause_ms", "rss_kb")}))
        mem = result["verifier_memory"]
        result["targets"] = {
            "verify_rss_over_baseline_kb": target(mem["ed25519"]["over_baseline_kb"], TARGET_VERIFY_RSS_KB, unit="KiB"),
            "readings_lost": target(result["readings"]["lost"], 0),
            "readings_scored_twice": target(result["readings"]["scored_twice"], 0),
        }
        result["ratios"] = {
            "longest_pause_update_over_baseline": result["pause_ms"]["update"]
            / max(result["pause_ms"]["baseline"], 1e-9),
            "peak_rss_update_over_baseline": result["rss_kb"]["update_peak"]
            / max(result["rss_kb"]["baseline_peak"], 1),
        }
        return result


def _swap_figures(
    scores: list[tuple[float, float]],
    sent: int,
    samples: list[tuple[float, int]],
    steps: list[tuple[str, float]],
    deploy_at: float,
    seconds: float,
) -> dict[str, Any]:
    seqs = [round((ts - T0) * 1000) for ts, _ in scores]
    counts = np.bincount(np.asarray(seqs, dtype=np.int64), minlength=sent) if seqs else np.zeros(sent, dtype=np.int64)
    swapped_at = next((t for s, t in steps if s in ("swapped", "refused")), None)
    received = sorted(t for _, t in scores)
    gaps = np.diff(np.asarray(received)) if len(received) > 1 else np.zeros(1)
    starts = np.asarray(received[:-1])
    end = (swapped_at or deploy_at) + 1.0
    update = (starts >= deploy_at - 0.1) & (starts <= end)
    baseline = (starts >= deploy_at - seconds) & (starts < deploy_at - 0.1)
    times = np.asarray([t for t, _ in samples])
    rss = np.asarray([v for _, v in samples])
    return {
        "readings": {
            "sent": sent,
            "scored": int(counts[:sent].sum()),
            "lost": int(np.count_nonzero(counts[:sent] == 0)),
            "scored_twice": int(np.count_nonzero(counts > 1)),
        },
        "swap_seconds_after_deploy": None if swapped_at is None else round(swapped_at - deploy_at, 3),
        "pause_ms": {
            "update": round(float(gaps[update].max()) * 1000, 2) if update.any() else None,
            "baseline": round(float(gaps[baseline].max()) * 1000, 2) if baseline.any() else None,
        },
        "rss_kb": {
            "baseline_peak": int(rss[times < deploy_at].max()) if (times < deploy_at).any() else None,
            "update_peak": int(rss[times >= deploy_at].max()) if (times >= deploy_at).any() else None,
            "after_swap_last": int(rss[-1]) if len(rss) else None,
        },
    }
