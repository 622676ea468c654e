"""``edgewatch keygen``: a new Ed25519 key pair for signing bundles (on the workstation; needs ``cryptography``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edgewatch.errors import ConfigError, MissingExtraError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="path prefix of the key files, e.g. keys/plant-a (writes .key and .pub)")


def run(args: argparse.Namespace) -> int:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise MissingExtraError("cryptography", "train") from None
    from edgewatch.bundle.signing import key_id, public_key_pem

    private_path, public_path = Path(f"{args.name}.key"), Path(f"{args.name}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} exists; refusing to overwrite a key", field="name")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path.write_text(public_key_pem(raw), encoding="ascii")
    print(f"private key {private_path} (keep it secret), public key {public_path}, key id {key_id(raw)}")
    return 0
