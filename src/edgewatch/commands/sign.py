"""``edgewatch sign BUNDLE --key K``: sign a bundle's manifest with an Ed25519 private key (needs ``cryptography``).

The bundle is verified first (every file's sha256), so what gets signed is what the manifest describes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgewatch.errors import ConfigError, MissingExtraError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("--key", required=True, help="private key file written by 'edgewatch keygen' (NAME.key)")


def run(args: argparse.Namespace) -> int:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise MissingExtraError("cryptography", "train") from None
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.signing import key_id, write_signature

    bundle = load_bundle(args.bundle)
    try:
        key = serialization.load_pem_private_key(Path(args.key).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read {args.key}: {exc.strerror}", field="key") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{args.key}: not an unencrypted PEM private key ({exc})", field="key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{args.key}: not an Ed25519 key (edgewatch keygen writes one)", field="key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign((bundle.path / "manifest.json").read_bytes())
    path = write_signature(bundle.path, signature, raw)
    print(f"signed {bundle.path} ({bundle.manifest.model_id}) with key {key_id(raw)}: {path}")
    return 0
