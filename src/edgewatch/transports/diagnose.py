"""Why the broker cannot be reached, in words an operator can act on.

paho-mqtt reports a failed connection attempt without its cause, so a wrong CA file or a host name the
broker's certificate does not hold used to look like any outage ("cannot reach mqtt broker ... retrying").
:func:`explain_connect_failure` repeats the attempt by hand -- a TCP connection and, for TLS, a handshake
with the same SSL context -- and names what failed: the name lookup, nothing listening, no answer, the
certificate chain (with the CA file to check), the host name (with the setting that skips that check), an
expired certificate, a plain MQTT port behind ``mqtts://``. The MQTT transport calls it once per outage,
from its network thread; it blocks for at most ``2 * timeout`` seconds.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

# OpenSSL verify codes (x509_vfy.h)
_UNTRUSTED = {2, 18, 19, 20, 21, 27}  # unknown issuer, self-signed, chain not verifiable, untrusted
_EXPIRED = 10
_NOT_YET_VALID = 9
_NAME_MISMATCH = {62, 64}  # host name, IP address


def explain_connect_failure(
    host: str, port: int, context: ssl.SSLContext | None = None, *, ca: str | None = None, timeout: float = 3.0
) -> str:
    """One sentence on why a connection to ``host:port`` (with TLS when ``context`` is given; ``ca`` is the
    configured CA file, for the message) fails; ends with what the TCP and TLS layers allowed."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        return f"cannot resolve the host name {host!r} ({exc.strerror}); check mqtt.url"
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {host}:{port} (is the broker running? is the port right?)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s (a firewall, or the host is down)"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    with sock:
        if context is None:
            return f"the TCP connection to {host}:{port} works; the broker closed the MQTT connection"
        import ssl  # only with TLS: a plain mqtt:// agent never loads it (transports/deferred.py)

        try:
            with context.wrap_socket(sock, server_hostname=host):
                return f"the TCP connection and the TLS handshake with {host}:{port} work; the broker closed it"
        except ssl.SSLCertVerificationError as exc:
            return _certificate(exc, host, ca)
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            hint = ""
            if "WRONG_VERSION_NUMBER" in str(reason).upper() or "record layer" in str(exc):
                hint = " (is this a plain MQTT port? mqtts:// needs the broker's TLS listener, often 8883)"
            elif "CERTIFICATE_REQUIRED" in str(reason).upper() or "HANDSHAKE_FAILURE" in str(reason).upper():
                hint = " (does the broker require a client certificate? set mqtt.tls.cert and mqtt.tls.key)"
            return f"TLS handshake failed with {host}:{port}: {reason}{hint}"
        except OSError as exc:
            return (
                f"TLS handshake failed with {host}:{port}: the broker dropped the connection ({exc.strerror or exc}); "
                "is it a plain MQTT port? mqtts:// needs the broker's TLS listener, often 8883"
            )


def _certificate(exc: ssl.SSLCertVerificationError, host: str, ca: str | None) -> str:
    code = exc.verify_code
    detail = exc.verify_message or str(exc)
    if code in _NAME_MISMATCH or "mismatch" in detail.lower():
        return (
            f"the broker's certificate does not name {host!r} ({detail}): connect by a name the certificate holds "
            "(mqtt.url), or set mqtt.tls.insecure = true to skip only the host name check"
        )
    source = f"mqtt.tls.ca = {ca}" if ca else "the system CA store (mqtt.tls.ca not set)"
    if code in _UNTRUSTED:
        return f"the broker's certificate is not signed by a CA this agent trusts ({detail}); check {source}"
    if code == _EXPIRED:
        return f"the broker's certificate has expired ({detail})"
    if code == _NOT_YET_VALID:
        return f"the broker's certificate is not valid yet ({detail}); is this device's clock right?"
    return f"the broker's certificate was refused ({detail}); trusted CAs: {source}"
