"""``edgewatch keygen`` and ``edgewatch sign``, and the agent refusing a bundle at start, naming why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgewatch.agent.bundles import Refused, open_active
from edgewatch.agent.config import config_from_dict
from edgewatch.bundle.signing import SIGNATURE_FILE, load_public_keys, verify_signature
from edgewatch.cli import main
from tests.fakes import write_fake_bundle

pytest.importorskip("cryptography")


def test_keygen_then_sign_makes_a_bundle_its_public_key_verifies(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = write_fake_bundle(tmp_path / "bundle")
    assert main(["keygen", str(tmp_path / "keys" / "plant")]) == 0
    private = tmp_path / "keys" / "plant.key"
    assert private.stat().st_mode & 0o777 == 0o600
    assert main(["keygen", str(tmp_path / "keys" / "plant")]) == 2  # never overwrites a key
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["sign", str(bundle), "--key", str(private)]) == 0
    (key,) = load_public_keys([str(tmp_path / "keys" / "plant.pub")])
    assert verify_signature(bundle, [key]) == key
    assert key.key_id in capsys.readouterr().out
    assert main(["sign", str(bundle), "--key", str(tmp_path / "keys" / "plant.pub")]) == 2
    assert "not an unencrypted PEM private key" in capsys.readouterr().err


def _config(tmp_path: Path, bundle: Path, keys: list[str]):  # type: ignore[no-untyped-def]
    raw = {"bundle": {"path": str(bundle)}, "update": {"trusted_keys": keys}, "state_dir": str(tmp_path / "state")}
    return config_from_dict(raw)


def test_with_a_trusted_key_the_agent_refuses_at_start_an_unsigned_wrongly_signed_or_tampered_bundle(
    tmp_path: Path,
) -> None:
    bundle = write_fake_bundle(tmp_path / "bundle")
    for name in ("good", "other"):
        assert main(["keygen", str(tmp_path / name)]) == 0
    good = [str(tmp_path / "good.pub")]
    with pytest.raises(Refused, match=r"bundle refused \(unsigned\): .*not signed") as unsigned:
        open_active(_config(tmp_path, bundle, good))
    assert unsigned.value.reason == "unsigned"
    assert main(["sign", str(bundle), "--key", str(tmp_path / "other.key")]) == 0
    with pytest.raises(Refused, match="untrusted_key"):
        open_active(_config(tmp_path, bundle, good))
    assert main(["sign", str(bundle), "--key", str(tmp_path / "good.key")]) == 0
    model = bundle / "model.bin"
    model.write_bytes(model.read_bytes()[::-1])  # the manifest is intact: the file's hash tells
    with pytest.raises(Refused, match=r"invalid_bundle.*sha256 mismatch"):
        open_active(_config(tmp_path, bundle, good))
    shutil.rmtree(bundle)
    write_fake_bundle(bundle)
    assert main(["sign", str(bundle), "--key", str(tmp_path / "good.key")]) == 0
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"threshold_rule"', ' "threshold_rule"', 1))
    with pytest.raises(Refused, match="bad_signature"):
        open_active(_config(tmp_path, bundle, good))
    assert (bundle / SIGNATURE_FILE).is_file()


def test_a_trusted_key_that_is_no_key_is_a_config_error(tmp_path: Path) -> None:
    bundle = write_fake_bundle(tmp_path / "bundle")
    (tmp_path / "k.pub").write_text("hello")
    from edgewatch.errors import ConfigError

    with pytest.raises(ConfigError, match=r"update\.trusted_keys\[0\]: .*not a PEM public key"):
        _config(tmp_path, bundle, [str(tmp_path / "k.pub")])
