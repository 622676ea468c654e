"""Which bundle the agent runs: every check a bundle passes before it scores, and the choice at start.

:func:`open_checked` is the one way a bundle directory becomes a running model, at start and for an
update: signature (when ``update.trusted_keys`` names any key), sha256 of every file and the manifest schema
(``load_bundle``), the same features as the live model (for an update), then the model opened on this
machine's runtime, which scores the bundle's probe here and refuses a model that does not reproduce it.
A failure is a :class:`Refused` with a machine-readable ``reason``:

==================  ======================================================================
``unsigned``        no ``signature.json`` while trusted keys are configured
``untrusted_key``   signed by a key that is not trusted here
``bad_signature``   the manifest changed after it was signed
``malformed_signature``  ``signature.json`` is not a valid signature document
``invalid_bundle``  a file missing, truncated or changed (sha256), or a manifest that does not load
``wrong_features``  features other than the live model's (names and order)
``probe_failed``    the model does not reproduce its probe scores on this CPU, or does not load
==================  ======================================================================

:func:`open_active` is the choice at start: the configured ``bundle.path`` is copied into the bundle slots
(:mod:`edgewatch.bundle.slots`) when the slots are empty or when it changed since it was last copied in (a
bundle installed by hand wins, as it always did); otherwise the active slot -- possibly a bundle deployed
over MQTT -- runs. If the active bundle fails its checks (after an update, typically its probe on this CPU)
and there is a previous one that passes, the agent rolls back to it by itself and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from edgewatch.agent.config import AgentConfig
from edgewatch.bundle import Bundle, load_bundle
from edgewatch.bundle.signing import PublicKey, SignatureError, load_public_keys, verify_signature
from edgewatch.bundle.slots import BundleSlots, bundle_digest, read_bundle_files
from edgewatch.errors import BundleError, RuntimeBackendError
from edgewatch.runtime import Backend

log = logging.getLogger("edgewatch.update")


class Refused(BundleError):
    """A bundle that will not run here; ``reason`` is one of the module docstring's codes, ``detail`` says
    what exactly was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"bundle refused ({reason}): {detail}")


@dataclass(frozen=True)
class Checked:
    """A bundle that passed every check, its model opened; ``signer`` is the key id (None: unsigned)."""

    bundle: Bundle
    backend: Backend
    signer: str | None


def trusted_keys(config: AgentConfig) -> tuple[PublicKey, ...]:
    return load_public_keys(config.update.trusted_keys)


def check_signature(path: Path, keys: tuple[PublicKey, ...]) -> str | None:
    """The signer's key id, None when no key is configured (nothing to check); :class:`Refused` otherwise."""
    if not keys:
        return None
    try:
        return verify_signature(path, keys).key_id
    except SignatureError as exc:
        raise Refused(exc.reason, str(exc)) from None
    except BundleError as exc:
        raise Refused("invalid_bundle", str(exc)) from None


def open_checked(
    path: Path, config: AgentConfig, keys: tuple[PublicKey, ...], features: tuple[str, ...] | None = None
) -> Checked:
    """Run every check on the bundle at ``path`` and open its model (see the module docstring)."""
    signer = check_signature(path, keys)
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        raise Refused("invalid_bundle", str(exc)) from None
    manifest = bundle.manifest
    if features is not None and tuple(manifest.features) != features:
        missing = [f for f in features if f not in manifest.features]
        extra = [f for f in manifest.features if f not in features]
        detail = f"missing {missing}, new {extra}" if missing or extra else "same names in another order"
        raise Refused(
            "wrong_features",
            f"{manifest.model_id} has features {list(manifest.features)}, the live model {list(features)} ({detail})",
        )
    from edgewatch.runtime import open_backend

    runtime = config.runtime
    try:
        backend = open_backend(bundle, runtime.backend, artifact=runtime.artifact, threads=runtime.threads)
    except (RuntimeBackendError, BundleError) as exc:
        raise Refused("probe_failed", f"{manifest.model_id}: {exc}") from None
    return Checked(bundle, backend, signer)


@dataclass(frozen=True)
class Startup:
    """What :func:`open_active` chose: the running bundle, and a rollback it had to make (None: none)."""

    checked: Checked
    slots: BundleSlots
    rolled_back: Refused | None = None


def open_active(config: AgentConfig) -> Startup:
    """The bundle to run at start (see the module docstring); :class:`Refused` when none passes its checks."""
    keys = trusted_keys(config)
    slots = BundleSlots(config.update.store_dir)
    configured = Path(config.bundle.path)
    try:
        files = read_bundle_files(configured)
    except BundleError as exc:
        raise Refused("invalid_bundle", str(exc)) from None
    digest = bundle_digest(files)
    if slots.active is None or not slots.active.is_dir() or digest != slots.seeded_from:
        check_signature(configured, keys)
        installed = slots.install(files)
        slots.activate(installed, seeded_from=digest)
        log.info("bundle %s from %s is now active (%s)", installed.name, configured, slots.root)
    active = slots.active
    assert active is not None
    try:
        return Startup(open_checked(active, config, keys), slots)
    except Refused as failure:
        previous = slots.previous
        if previous is None or not previous.is_dir():
            raise
        log.error("the active bundle %s fails its checks (%s); rolling back to %s", active.name, failure, previous.name)
        checked = open_checked(previous, config, keys)
        slots.rollback()
        return Startup(checked, slots, failure)
