"""Bundle signatures: who made a bundle, checked on the device before it is loaded.

A signed bundle holds ``signature.json`` next to ``manifest.json``::

    {"algorithm": "ed25519", "key_id": "3f9c0e1a2b4d5e6f", "signature": "<base64 of 64 bytes>"}

The signature is Ed25519 over the exact bytes of ``manifest.json``. The manifest holds the sha256 and size
of every other file and :func:`~edgewatch.bundle.store.load_bundle` verifies them, so one signature covers
the whole bundle: an edited manifest fails the signature, an edited model file fails its hash.
``signature.json`` itself is not listed in the manifest (it cannot be: it signs it).

Keys are the usual PEM files, so ``openssl pkey`` reads them: ``edgewatch keygen`` writes a PKCS#8 private
key and its SubjectPublicKeyInfo public key; the device needs only the public key, named in its
configuration (``update.trusted_keys``). A key's id is the first 16 hex digits of the sha256 of its 32 raw
bytes. Verification is :mod:`edgewatch.bundle.ed25519` (standard library only).

:func:`verify_signature` refuses, with a :class:`SignatureError` whose ``reason`` says why: ``unsigned``
(no ``signature.json``), ``malformed_signature`` (not the format above), ``untrusted_key`` (signed, but by
none of the trusted keys) or ``bad_signature`` (a trusted key's signature that does not match the manifest:
the manifest was changed after signing).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgewatch.bundle import digests, ed25519  # digests, not hashlib: no OpenSSL libcrypto on the edge
from edgewatch.errors import BundleError, ConfigError

SIGNATURE_FILE = "signature.json"
ALGORITHM = "ed25519"
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_PUBLIC = "PUBLIC KEY"


class SignatureError(BundleError):
    """A bundle's signature is missing, malformed, by an untrusted key, or does not match its manifest;
    ``reason`` is ``unsigned``, ``malformed_signature``, ``untrusted_key`` or ``bad_signature``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class PublicKey:
    """A trusted Ed25519 public key: its 32 raw bytes and where it came from (for messages)."""

    raw: bytes
    source: str = ""

    @property
    def key_id(self) -> str:
        return key_id(self.raw)


def key_id(raw: bytes) -> str:
    """The id of a public key: the first 16 hex digits of the sha256 of its raw bytes."""
    return digests.sha256(raw).hexdigest()[:16]


def public_key_pem(raw: bytes) -> str:
    """The PEM (SubjectPublicKeyInfo) text of a raw 32-byte Ed25519 public key."""
    body = base64.encodebytes(_SPKI_PREFIX + raw).decode("ascii").replace("\n", "")
    return f"-----BEGIN {_PEM_PUBLIC}-----\n{body}\n-----END {_PEM_PUBLIC}-----\n"


def parse_public_key(text: str, source: str = "") -> PublicKey:
    """An Ed25519 public key from its PEM text; ``ValueError`` saying what is wrong otherwise."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] != f"-----BEGIN {_PEM_PUBLIC}-----" or lines[-1] != f"-----END {_PEM_PUBLIC}-----":
        raise ValueError(f"not a PEM public key (expected '-----BEGIN {_PEM_PUBLIC}-----')")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the PEM body is not valid base64") from None
    if len(der) != len(_SPKI_PREFIX) + ed25519.PUBLIC_KEY_BYTES or not der.startswith(_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key (edgewatch keygen writes one)")
    return PublicKey(der[len(_SPKI_PREFIX) :], source)


def load_public_keys(paths: Sequence[str], field: str = "update.trusted_keys") -> tuple[PublicKey, ...]:
    """The public keys in PEM files ``paths``; :class:`ConfigError` naming ``field[i]`` for a file that is
    missing or not an Ed25519 public key."""
    keys = []
    for i, path in enumerate(paths):
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read public key {path!r}: {exc}", field=f"{field}[{i}]") from None
        try:
            keys.append(parse_public_key(text, path))
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}", field=f"{field}[{i}]") from None
    return tuple(keys)


def signature_document(signature: bytes, public_raw: bytes) -> dict[str, Any]:
    """The content of ``signature.json`` for a signature made by the key with raw public bytes ``public_raw``."""
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(public_raw),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def write_signature(bundle: str | os.PathLike[str], signature: bytes, public_raw: bytes) -> Path:
    """Write ``signature.json`` into the bundle directory (atomically); its path."""
    target = Path(bundle) / SIGNATURE_FILE
    tmp = target.with_name(SIGNATURE_FILE + ".tmp")
    text = json.dumps(signature_document(signature, public_raw), indent=2, sort_keys=True) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def verify_signature(bundle: str | os.PathLike[str], trusted: Sequence[PublicKey]) -> PublicKey:
    """Check that the bundle's manifest is signed by one of the ``trusted`` keys; the key that signed it.

    Raises :class:`SignatureError` (see the module docstring for the reasons). Does not check the files'
    hashes: :func:`~edgewatch.bundle.store.load_bundle` does.
    """
    root = Path(bundle)
    try:
        raw_document = (root / SIGNATURE_FILE).read_bytes()
    except FileNotFoundError:
        raise SignatureError("unsigned", f"{root}: the bundle is not signed (no {SIGNATURE_FILE})") from None
    except OSError as exc:
        raise SignatureError("malformed_signature", f"{root / SIGNATURE_FILE}: cannot read: {exc}") from None
    signer_id, signature = _parse_document(root / SIGNATURE_FILE, raw_document)
    try:
        manifest = (root / "manifest.json").read_bytes()
    except OSError as exc:
        raise BundleError(f"{root}: cannot read manifest.json: {exc}") from None
    signer = next((k for k in trusted if k.key_id == signer_id), None)
    if signer is None:
        ids = ", ".join(k.key_id for k in trusted) or "none configured"
        raise SignatureError(
            "untrusted_key", f"{root}: signed by key {signer_id}, which is not a trusted key (trusted: {ids})"
        )
    if not ed25519.verify(signer.raw, manifest, signature):
        raise SignatureError(
            "bad_signature",
            f"{root}: the signature by key {signer_id} does not match manifest.json (changed after signing?)",
        )
    return signer


def _parse_document(path: Path, raw: bytes) -> tuple[str, bytes]:
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SignatureError("malformed_signature", f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("algorithm") != ALGORITHM:
        raise SignatureError("malformed_signature", f"{path}: expected an object with algorithm {ALGORITHM!r}")
    signer, encoded = document.get("key_id"), document.get("signature")
    if not isinstance(signer, str) or not isinstance(encoded, str):
        raise SignatureError("malformed_signature", f"{path}: key_id and signature must be strings")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed_signature", f"{path}: signature is not valid base64") from None
    if len(signature) != ed25519.SIGNATURE_BYTES:
        raise SignatureError(
            "malformed_signature", f"{path}: signature is {len(signature)} bytes, Ed25519 has {ed25519.SIGNATURE_BYTES}"
        )
    return signer, signature
