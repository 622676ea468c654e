"""Which model a bundle runs by default: the INT8 model where it passed the fidelity gate, else the FP32 one.

Every autoencoder bundle holds an FP32 and an INT8 model per runtime; the fidelity gate
(:mod:`edgewatch.export.fidelity`) says whether each INT8 model decides like its FP32 twin. On a few hundred
training rows it often does not (docs/quantization.md), and a bundle must never default to an unfaithful
INT8 model silently. :func:`choose_defaults` decides, per runtime, under one of three policies
(``edgewatch train`` flags in brackets):

* ``fallback-fp32`` (the default): a runtime whose INT8 model failed runs its FP32 model by default; the
  bundle is written, ``train`` says which bars failed, the manifest records the INT8 models as
  ``unfaithful`` and ``info`` and the agent show it;
* ``require-int8`` (``--require-int8``): a failed INT8 model is an error (:class:`FidelityError`, exit status
  3), for users who must have INT8 on the device; no bundle is written;
* ``keep-int8`` (``--allow-low-fidelity``): the failed INT8 models stay the defaults, knowingly; the
  manifest records that choice (``fidelity.on_failure``) and the agent logs a warning at start.

With ``precision="fp32"`` (``--precision fp32``) the FP32 models are the defaults whatever the gate said.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edgewatch.bundle import RUNTIMES, Artifact, FidelityGate
from edgewatch.bundle.manifest import OnFailure
from edgewatch.errors import FidelityError

Policy = Literal["fallback-fp32", "require-int8", "keep-int8"]
POLICIES: tuple[Policy, ...] = ("fallback-fp32", "require-int8", "keep-int8")


@dataclass(frozen=True)
class DefaultChoice:
    """The manifest's ``default_artifact`` (runtime → artifact name), the gate record completed with the
    unfaithful artifacts and the policy applied, and the runtimes that fell back to FP32 because their
    INT8 model failed the gate (``fell_back``: runtime → the failed INT8 artifact's name)."""

    default_artifact: dict[str, str]
    gate: FidelityGate | None
    fell_back: dict[str, str]


def choose_defaults(
    artifacts: Sequence[Artifact], gate: FidelityGate | None, *, precision: str, policy: Policy
) -> DefaultChoice:
    """Per runtime, the artifact a device runs by default (see the module docstring). ``artifacts`` carry
    their fidelity figures and failures (:class:`~edgewatch.bundle.Fidelity`), ``gate`` is the build's
    verdict (None when the bundle has no INT8 model). Raises :class:`FidelityError` naming every failed bar
    under ``require-int8`` when an INT8 model failed, or when the bundle has no INT8 model at all."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    by_name = {a.name: a for a in artifacts}
    unfaithful = tuple(a.name for a in artifacts if a.fidelity is not None and not a.fidelity.faithful)
    if policy == "require-int8":
        _require_int8(artifacts, unfaithful)
    defaults: dict[str, str] = {}
    fell_back: dict[str, str] = {}
    for runtime in RUNTIMES:
        int8, fp32 = by_name.get(f"{runtime}-int8"), by_name.get(f"{runtime}-fp32")
        if precision == "int8" and int8 is not None:
            if int8.name not in unfaithful or policy == "keep-int8":
                defaults[runtime] = int8.name
            elif fp32 is not None:  # never an unfaithful default: the faithful FP32 twin instead
                defaults[runtime] = fp32.name
                fell_back[runtime] = int8.name
        elif fp32 is not None:
            defaults[runtime] = fp32.name
    if gate is not None:
        on_failure: OnFailure = "keep-int8" if policy == "keep-int8" else "fallback-fp32"
        gate = dataclasses.replace(gate, passed=not unfaithful, unfaithful=unfaithful, on_failure=on_failure)
    return DefaultChoice(defaults, gate, fell_back)


def _require_int8(artifacts: Sequence[Artifact], unfaithful: tuple[str, ...]) -> None:
    if not any(a.precision == "int8" for a in artifacts):
        raise FidelityError("--require-int8: this model kind has no INT8 model (an isolation forest is FP32 only)")
    if unfaithful:
        failures = [f for a in artifacts if a.name in unfaithful and a.fidelity for f in a.fidelity.failures]
        raise FidelityError(
            "--require-int8: the INT8 model would not make the same decisions as the float model: "
            + "; ".join(failures)
            + ". Train on more rows of normal operation or add --calibration-rows; without --require-int8 the "
            "bundle runs its faithful FP32 model instead."
        )
