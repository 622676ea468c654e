"""Ed25519 signature verification (RFC 8032, section 5.1.7) in pure Python: the device's verifier.

Why not a library: importing ``cryptography`` raises the agent's resident memory by about 9 MB
(docs/updates.md), far over the 2 MB an update may cost on the device, while this module costs a few
hundred kilobytes and verifies a manifest in milliseconds. It only *verifies*: bundles are signed on the
workstation (``edgewatch sign``, with ``cryptography``). Verification uses no secret, so the big-integer
arithmetic below need not run in constant time. The arithmetic follows the RFC's reference code (extended
twisted Edwards coordinates, cofactorless check ``[s]B = R + [k]A``); ``tests/bundle/test_ed25519.py``
checks it against the RFC's test vectors and against signatures made by ``cryptography``.
"""

from __future__ import annotations

from edgewatch.bundle import digests  # not hashlib: no OpenSSL libcrypto on the edge (digests.py)

_P = 2**255 - 19  # the field prime
_L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z
_IDENTITY: Point = (0, 1, 1, 0)

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def _add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: Point) -> Point:
    result = _IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(p: Point, q: Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(data: bytes) -> Point | None:
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
_BASE: Point = (_recover_x(_BASE_Y, 0) or 0, _BASE_Y, 1, (_recover_x(_BASE_Y, 0) or 0) * _BASE_Y % _P)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` (64 bytes) is a valid Ed25519 signature of ``message`` by ``public_key``
    (32 bytes, RFC 8032 encoding). Malformed keys and signatures are simply not valid: False."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    a = _decompress(public_key)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:  # the RFC's malleability check
        return False
    k = int.from_bytes(digests.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _equal(_multiply(s, _BASE), _add(r, _multiply(k, a)))
