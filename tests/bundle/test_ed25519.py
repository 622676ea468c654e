"""The device's pure-Python Ed25519 verifier against RFC 8032's test vectors and against ``cryptography``."""

from __future__ import annotations

import pytest

from edgewatch.bundle.ed25519 import verify

# RFC 8032, section 7.1: TEST 1, 2 and 3 (secret key, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032, ids=["test1", "test2", "test3"])
def test_rfc8032_vectors_verify_and_any_change_fails(secret: str, public: str, message: str, signature: str) -> None:
    pk, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert verify(pk, msg, sig)
    assert not verify(pk, msg + b"\x00", sig)
    flipped = bytearray(sig)
    flipped[5] ^= 1
    assert not verify(pk, msg, bytes(flipped))
    other = bytes.fromhex(RFC8032[(RFC8032.index((secret, public, message, signature)) + 1) % 3][1])
    assert not verify(other, msg, sig)


def test_malformed_inputs_are_invalid_not_errors() -> None:
    _, public, message, signature = RFC8032[1]
    pk, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert not verify(pk[:31], msg, sig)
    assert not verify(pk, msg, sig[:63])
    assert not verify(b"\xff" * 32, msg, sig)  # not a point on the curve
    big_s = sig[:32] + (2**253).to_bytes(32, "little")  # s >= L: refused (malleability)
    assert not verify(pk, msg, big_s)


def test_signatures_made_by_cryptography_verify() -> None:
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    from cryptography.hazmat.primitives import serialization

    for i in range(5):
        key = ed.Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        message = bytes(range(256)) * (i * 20 + 1)
        signature = key.sign(message)
        assert verify(raw, message, signature)
        assert not verify(raw, message[:-1], signature)
