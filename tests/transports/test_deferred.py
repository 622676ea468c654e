"""paho-mqtt imported with ``ssl``, ``urllib.request`` and ``hashlib`` deferred (``edgewatch.transports.deferred``):
each check runs in a fresh process, where nothing has imported those modules before."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from edgewatch.rig.broker import MosquittoBroker

#: what a plain mqtt:// agent no longer loads (with the OpenSSL libraries behind _ssl and _hashlib)
DEFERRED_AWAY = ("ssl", "_ssl", "hashlib", "_hashlib", "urllib.request", "http.client", "email")


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_transport_imports_paho_without_ssl_urllib_request_and_hashlib() -> None:
    out = _fresh(
        f"""
        import sys
        import edgewatch.transports.mqtt
        import paho.mqtt.client
        print(sorted(m for m in {DEFERRED_AWAY!r} if m in sys.modules))
        """
    )
    assert out.strip() == "[]"


def test_a_stand_in_reads_the_real_module_and_leaves_sys_modules_alone() -> None:
    _fresh(
        """
        import sys
        import urllib
        from edgewatch.transports.deferred import Deferred, paho
        assert isinstance(paho.ssl, Deferred) and isinstance(paho.urllib.request, Deferred)
        assert "ssl" not in sys.modules and "urllib.request" not in sys.modules and "hashlib" not in sys.modules

        # an SSL exception cannot exist before _ssl is loaded: paho's except clauses get a class matching nothing
        not_yet = paho.ssl.SSLWantReadError
        assert issubclass(not_yet, Exception) and not issubclass(BlockingIOError, not_yet)
        assert "ssl" not in sys.modules and "_ssl" not in sys.modules

        context = paho.ssl.SSLContext  # anything else loads the real module, which is then everyone's
        import ssl
        assert sys.modules["ssl"] is ssl and context is ssl.SSLContext
        assert paho.ssl.SSLWantReadError is ssl.SSLWantReadError and paho.ssl.CERT_NONE is ssl.CERT_NONE

        assert paho.urllib.request.getproxies.__module__ == "urllib.request"
        import urllib.request
        assert sys.modules["urllib.request"] is urllib.request
        assert paho.urllib.request is urllib.request  # the real import replaced the package attribute
        assert paho.hashlib.sha1(b"x").hexdigest() == "11f6ad8ec52a2984abaafd7c3b516503785c2072"
        """
    )


@pytest.mark.mqtt
def test_a_plain_connection_never_loads_ssl(broker: MosquittoBroker) -> None:
    """Reading and writing a plain socket raises BlockingIOError now and then; paho's except clauses for the
    SSL exceptions must not load ssl to learn that it is not one."""
    out = _fresh(
        f"""
        import sys, time
        from edgewatch.transports.mqtt import MqttTransport
        t = MqttTransport("127.0.0.1", {broker.port}, reconnect_min_s=1, reconnect_max_s=1)
        t.subscribe("plant/+/sensors", 1)
        t.start()
        assert t.wait_connected(5)
        time.sleep(0.2)
        for i in range(200):
            t.publish("plant/d/sensors", b"x" * 100, qos=i % 2)
        got = [t.inbox.get(timeout=5).payload for _ in range(200)]
        t.stop()
        assert got == [b"x" * 100] * 200
        print(sorted(m for m in {DEFERRED_AWAY!r} if m in sys.modules))
        """
    )
    assert out.strip().splitlines()[-1] == "[]", out
