"""``edgewatch deploy BUNDLE --broker URL --agent ID``: send a signed bundle to an agent over MQTT and follow it.

The bundle is checked here first (every file's sha256, and a signature, which the agent will insist on),
packed (:mod:`edgewatch.bundle.package`), published in QoS 1 chunks on ``edgewatch/<ID>/update/bundle``
(:mod:`edgewatch.agent.transfer`), and the agent's steps on ``edgewatch/<ID>/update/status`` are printed as
they come until the swap, a refusal or ``--timeout``. ``--swap``, ``--abort`` and ``--rollback`` send that
command instead of a bundle. Exit status 0 when the agent swapped (or rolled back), 1 when it refused or
did not answer.
"""

from __future__ import annotations

import argparse
import json
import queue
import time
import uuid
from typing import Any

FINAL_STEPS = ("swapped", "rolled_back", "refused", "aborted")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", nargs="?", help="signed bundle directory (edgewatch sign)")
    parser.add_argument("--broker", required=True, help="mqtt://host:port of the agent's broker")
    parser.add_argument("--agent", required=True, help="the agent's id (health.agent_id)")
    parser.add_argument("--force", action="store_true", help="swap once the bundle passes its checks, without shadow")
    command = parser.add_mutually_exclusive_group()
    command.add_argument("--swap", action="store_true", help="swap to the model in shadow now")
    command.add_argument("--abort", action="store_true", help="drop the model in shadow")
    command.add_argument("--rollback", action="store_true", help="go back to the previous bundle")
    parser.add_argument("--chunk-bytes", type=int, default=256 * 1024, help="bytes per MQTT message (default 256 KiB)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to follow the agent's steps (0: do not wait)"
    )


def run(args: argparse.Namespace) -> int:
    from edgewatch.errors import ConfigError
    from edgewatch.rig.clients import Listener, Publisher
    from edgewatch.transports.topics import agent_topic

    command = next((name for name in ("swap", "abort", "rollback") if getattr(args, name)), None)
    if (command is None) == (args.bundle is None):
        raise ConfigError("give a bundle directory, or one of --swap, --abort, --rollback", field="bundle")
    if args.chunk_bytes < 1024:
        raise ConfigError("must be at least 1024", field="--chunk-bytes")
    if command is None:
        messages, topic, what = _bundle_messages(args.bundle, args.chunk_bytes, args.force), "bundle", args.bundle
    else:
        messages, topic, what = [json.dumps({"command": command}).encode()], "command", command
    steps: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_status(_topic: str, payload: bytes, _received: float) -> None:
        try:
            steps.put(json.loads(payload))
        except ValueError:
            pass

    listener = None
    if args.timeout > 0:  # subscribe first: the agent's steps may come quickly; the retained one is old news
        listener = Listener(args.broker, agent_topic(args.agent, "update/status"), on_message=on_status, keep=False)
        time.sleep(0.2)
        while not steps.empty():
            steps.get_nowait()
    publisher = Publisher(args.broker)
    try:
        infos = [publisher.publish(agent_topic(args.agent, f"update/{topic}"), m, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(30)
        print(f"sent {what} to {args.agent} ({sum(len(m) for m in messages)} bytes in {len(messages)} message(s))")
    finally:
        publisher.close()
    if listener is None:
        return 0
    try:
        return _follow(steps, args.timeout, args.agent)
    finally:
        listener.close()


def _bundle_messages(path: str, chunk_bytes: int, force: bool) -> list[bytes]:
    from edgewatch.agent.transfer import chunk_messages
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.package import pack
    from edgewatch.bundle.signing import SIGNATURE_FILE
    from edgewatch.errors import BundleError

    bundle = load_bundle(path)
    if not (bundle.path / SIGNATURE_FILE).is_file():
        raise BundleError(f"{bundle.path} is not signed; sign it first: edgewatch sign {path} --key KEY")
    return chunk_messages(pack(bundle.path), uuid.uuid4().hex[:12], chunk_bytes=chunk_bytes, force=force)


def _follow(steps: queue.Queue[dict[str, Any]], timeout: float, agent: str) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = steps.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            print(f"no final answer from agent {agent!r} within {timeout:g} s (is it running, with update.listen?)")
            return 1
        print(_line(status), flush=True)
        if status.get("step") in FINAL_STEPS:
            return 0 if status["step"] in ("swapped", "rolled_back") else 1


def _line(status: dict[str, Any]) -> str:
    step = status.get("step", "?")
    bundle = status.get("bundle")
    model = bundle.get("model_id") if isinstance(bundle, dict) else None
    parts = [f"{step:<11}", f"active {status.get('active')}"]
    if model:
        parts.append(f"new {model}")
    figures = status.get("figures")
    if isinstance(figures, dict) and "live" in figures:
        live, new = figures["live"], figures["new"]
        parts.append(
            f"shadow: {new['scored']} readings, anomalous {new['anomalous_rate']:.2%} "
            f"(live {live['anomalous_rate']:.2%}), alerts {new['alerts_raised']} (live {live['alerts_raised']})"
        )
    if status.get("reason"):
        parts.append(f"reason {status['reason']}: {status.get('message', '')}")
    return "  ".join(parts)
