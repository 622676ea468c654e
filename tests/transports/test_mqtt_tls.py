"""MqttTransport over TLS (mqtts) against a real Mosquitto with a throw-away CA made by ``openssl``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgewatch.rig.broker import MosquittoBroker
from edgewatch.transports.mqtt import MqttTransport, TlsSettings
from tests.mqtt_broker import require_mosquitto

pytestmark = pytest.mark.mqtt


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (d / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=edgewatch test CA",
        cwd=d,
    )
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        cwd=d,
    )
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "other.key",
        "-out",
        "other.pem",
        "-days",
        "2",
        "-subj",
        "/CN=some other CA",
        cwd=d,
    )
    return d


@pytest.fixture
def tls_broker(pki: Path):  # type: ignore[no-untyped-def]
    conf = f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n"
    with MosquittoBroker(binary=require_mosquitto(), extra_conf=conf) as broker:
        yield broker


def _connects(broker: MosquittoBroker, host: str, tls: TlsSettings, wait: float) -> bool:
    t = MqttTransport(host, broker.port, tls=tls, reconnect_min_s=1, reconnect_max_s=1)
    t.subscribe("plant/+/sensors", 1)
    t.start()
    try:
        if not t.wait_connected(wait):
            return False
        time.sleep(0.2)
        t.publish("plant/tls/sensors", b"over tls", qos=1)
        return t.inbox.get(timeout=5).payload == b"over tls"
    finally:
        t.stop()


def test_verified_tls_round_trip(tls_broker: MosquittoBroker, pki: Path) -> None:
    assert _connects(tls_broker, "localhost", TlsSettings(ca=str(pki / "ca.pem")), 5), tls_broker.log()


def test_unknown_ca_is_refused(tls_broker: MosquittoBroker, pki: Path) -> None:
    assert not _connects(tls_broker, "localhost", TlsSettings(ca=str(pki / "other.pem")), 1.5)


def test_insecure_skips_only_the_host_name_check(tls_broker: MosquittoBroker, pki: Path) -> None:
    # the certificate names "localhost", not the address 127.0.0.1
    assert not _connects(tls_broker, "127.0.0.1", TlsSettings(ca=str(pki / "ca.pem")), 1.5)
    assert _connects(tls_broker, "127.0.0.1", TlsSettings(ca=str(pki / "ca.pem"), insecure=True), 5)


def test_tls_in_a_process_where_paho_was_imported_without_ssl(tls_broker: MosquittoBroker, pki: Path) -> None:
    """The agent's process: paho imported with ssl deferred (transports/deferred.py), TLS set up afterwards."""
    code = f"""
import sys, time
from edgewatch.transports.mqtt import MqttTransport, TlsSettings
assert "ssl" not in sys.modules
t = MqttTransport("localhost", {tls_broker.port}, tls=TlsSettings(ca={str(pki / "ca.pem")!r}))
t.subscribe("plant/+/sensors", 1)
t.start()
assert t.wait_connected(5)
time.sleep(0.2)
t.publish("plant/tls/sensors", b"over tls", qos=1)
assert t.inbox.get(timeout=5).payload == b"over tls"
t.stop()
print("ok", "ssl" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr + tls_broker.log()
    assert done.stdout.strip() == "ok True"


# ---------------------------------------------------------------- issue 13, defect 7: TLS failures explained
def _failure_log(broker: MosquittoBroker, host: str, tls: TlsSettings, caplog) -> str:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.WARNING, logger="edgewatch.mqtt")
    t = MqttTransport(host, broker.port, tls=tls, reconnect_min_s=1, reconnect_max_s=1)
    t.start()
    try:
        deadline = time.monotonic() + 10
        while "cannot reach" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not t.connected
        return str(caplog.text)
    finally:
        t.stop()


def test_a_wrong_ca_is_explained_in_the_log(tls_broker: MosquittoBroker, pki: Path, caplog) -> None:
    text = _failure_log(tls_broker, "localhost", TlsSettings(ca=str(pki / "other.pem")), caplog)
    assert "not signed by a CA" in text and "mqtt.tls.ca" in text and "other.pem" in text, text


def test_a_host_name_mismatch_is_explained_in_the_log(tls_broker: MosquittoBroker, pki: Path, caplog) -> None:
    text = _failure_log(tls_broker, "127.0.0.1", TlsSettings(ca=str(pki / "ca.pem")), caplog)
    assert "does not name '127.0.0.1'" in text and "mqtt.tls.insecure" in text, text


def test_a_plain_port_behind_mqtts_is_explained(broker, caplog) -> None:  # type: ignore[no-untyped-def]
    text = _failure_log(broker, "127.0.0.1", TlsSettings(), caplog)
    assert "TLS handshake failed" in text, text


def test_nothing_listening_is_explained(caplog) -> None:  # type: ignore[no-untyped-def]
    from edgewatch.rig.broker import free_port

    class Nowhere:
        port = free_port()

    text = _failure_log(Nowhere, "127.0.0.1", None, caplog)  # type: ignore[arg-type]
    assert "connection refused" in text, text
