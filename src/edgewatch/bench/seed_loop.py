"""The seed's own loop: the baseline the agent benchmark measures edgewatch against, in the same run.

What a first version of an edge anomaly detector does, and what this project started from: paho-mqtt and
LiteRT, the model loaded once, and per message: parse the JSON, scale, invoke, ``np.mean((x - r) ** 2) >
threshold``, publish an alert when it is. No checks, no per-device state, no alert policy, no outbox, no
batching. It is run as a script (``python seed_loop.py BUNDLE HOST PORT TOPIC``), so that the process imports
only json, numpy, paho-mqtt and LiteRT, as the seed did -- not the edgewatch package.

It reads the bundle's ``manifest.json`` itself (features, scaler, the ``litert`` default artifact and its
threshold) and publishes ``seed/stats`` once a second: ``{"received": n, "alerts": m}``, from which the
benchmark knows when every reading has been handled. Alerts go to ``seed/<device>/alert`` at QoS 1, as the
agent's do.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from ai_edge_litert.interpreter import Interpreter

STATS_TOPIC = "seed/stats"


def main(bundle: str, host: str, port: int, topic: str) -> None:
    manifest = json.loads((Path(bundle) / "manifest.json").read_text(encoding="utf-8"))
    features = manifest["features"]
    center = np.asarray(manifest["scaler"]["center"], dtype=np.float32)
    scale = np.asarray(manifest["scaler"]["scale"], dtype=np.float32)
    name = manifest["default_artifact"]["litert"]
    artifact = next(a for a in manifest["artifacts"] if a["name"] == name)
    threshold = float(artifact["threshold"]["value"])

    interpreter = Interpreter(model_path=str(Path(bundle) / artifact["file"]), num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    counts = {"received": 0, "alerts": 0}

    def on_message(client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        data = json.loads(message.payload)
        values = data["values"]
        x = np.array([values[f] for f in features] if isinstance(values, dict) else values, dtype=np.float32)
        x = (x - center) / scale
        q = np.clip(np.round(x / in_scale + in_zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], q[None, :])
        interpreter.invoke()
        r = (interpreter.get_tensor(out["index"])[0].astype(np.float32) - out_zero) * out_scale
        mse = float(np.mean((x - r) ** 2))
        counts["received"] += 1
        if mse > threshold:
            counts["alerts"] += 1
            device = message.topic.split("/")[1]
            alert = {"device": device, "ts": data["ts"], "score": mse, "threshold": threshold}
            client.publish(f"seed/{device}/alert", json.dumps(alert), qos=1)

    def on_connect(client: mqtt.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any) -> None:
        client.subscribe(topic, 0)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edgewatch-seed-loop")
    client.on_message = on_message
    client.on_connect = on_connect
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(1.0):
            client.publish(STATS_TOPIC, json.dumps(counts), qos=0)

    threading.Thread(target=report, daemon=True).start()
    client.connect(host, port, keepalive=60)
    try:
        client.loop_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
