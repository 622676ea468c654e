"""Bundle signatures: each refusal has its reason, keys are the PEM files ``openssl``/``cryptography`` write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgewatch.bundle.signing import (
    SIGNATURE_FILE,
    PublicKey,
    SignatureError,
    load_public_keys,
    parse_public_key,
    public_key_pem,
    verify_signature,
    write_signature,
)
from edgewatch.errors import ConfigError

ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
from cryptography.hazmat.primitives import serialization  # noqa: E402


def _key() -> tuple[object, bytes]:
    key = ed.Ed25519PrivateKey.generate()
    return key, key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, PublicKey]:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text('{"model_id": "m1", "files": {}}\n')
    key, raw = _key()
    write_signature(bundle, key.sign((bundle / "manifest.json").read_bytes()), raw)  # type: ignore[attr-defined]
    return bundle, PublicKey(raw)


def test_a_signed_manifest_verifies_with_its_key(signed: tuple[Path, PublicKey]) -> None:
    bundle, key = signed
    assert verify_signature(bundle, [key]) == key
    document = json.loads((bundle / SIGNATURE_FILE).read_text())
    assert document["algorithm"] == "ed25519" and document["key_id"] == key.key_id


def test_unsigned_wrong_key_tampered_and_malformed_are_refused_with_reasons(signed: tuple[Path, PublicKey]) -> None:
    bundle, key = signed
    _, other = _key()
    with pytest.raises(SignatureError, match="not a trusted key") as wrong:
        verify_signature(bundle, [PublicKey(other)])
    assert wrong.value.reason == "untrusted_key"
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace("m1", "m2"))
    with pytest.raises(SignatureError, match=r"does not match manifest\.json") as tampered:
        verify_signature(bundle, [key])
    assert tampered.value.reason == "bad_signature"
    (bundle / SIGNATURE_FILE).write_text('{"algorithm": "ed25519", "key_id": "x", "signature": "AAAA"}')
    with pytest.raises(SignatureError, match="3 bytes, Ed25519 has 64") as short:
        verify_signature(bundle, [key])
    assert short.value.reason == "malformed_signature"
    (bundle / SIGNATURE_FILE).unlink()
    with pytest.raises(SignatureError, match="not signed") as unsigned:
        verify_signature(bundle, [key])
    assert unsigned.value.reason == "unsigned"


def test_public_keys_are_pem_files_that_cryptography_reads_and_writes(tmp_path: Path) -> None:
    key, raw = _key()
    theirs = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_key_pem(raw).encode() == theirs
    assert parse_public_key(theirs.decode()).raw == raw
    good = tmp_path / "good.pub"
    good.write_bytes(theirs)
    rsa_like = tmp_path / "bad.pub"
    rsa_like.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert load_public_keys([str(good)])[0].raw == raw
    with pytest.raises(ConfigError, match=r"update\.trusted_keys\[1\]: .*not an Ed25519 public key"):
        load_public_keys([str(good), str(rsa_like)])
    with pytest.raises(ConfigError, match=r"update\.trusted_keys\[0\]: cannot read"):
        load_public_keys([str(tmp_path / "missing.pub")])
