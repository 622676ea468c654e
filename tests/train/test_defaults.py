"""Which model a bundle runs by default (edgewatch.train.defaults): never an unfaithful INT8 model silently."""

from __future__ import annotations

import dataclasses

import pytest

from edgewatch.bundle import Artifact, Fidelity, FidelityBars, FidelityFigures, FidelityGate, Manifest
from edgewatch.errors import FidelityError
from edgewatch.export.fidelity import check_gate
from edgewatch.train.defaults import choose_defaults
from tests.fakes import make_manifest

FIGURES = FidelityFigures(
    rank_correlation=0.995, alert_agreement=1.0, threshold_ratio=1.02, rows=80, reconstruction_rank_correlation=0.997
)
SHIPPED_BARS = FidelityBars()
GATE = FidelityGate(bars=SHIPPED_BARS, held_out="last 20%", passed=True)


def _artifacts(bars: FidelityBars = SHIPPED_BARS, *, onnx_figures: FidelityFigures = FIGURES) -> list[Artifact]:
    """Four artifacts like a dense-ae bundle's, each INT8 one gated with ``bars`` against the same figures
    (``onnx_figures`` for onnx-int8)."""
    template = make_manifest().artifacts[0]
    out = []
    for runtime in ("litert", "onnx"):
        figures = FIGURES if runtime == "litert" else onnx_figures
        failures = tuple(check_gate(figures, figures, bars, artifact=f"{runtime}-int8"))
        fidelity = Fidelity(f"{runtime}-fp32", figures, figures, failures)
        out.append(dataclasses.replace(template, name=f"{runtime}-int8", runtime=runtime, precision="int8"))
        out[-1] = dataclasses.replace(out[-1], fidelity=fidelity)
        out.append(dataclasses.replace(template, name=f"{runtime}-fp32", runtime=runtime, precision="fp32"))
    return out


def test_int8_that_passes_the_gate_is_the_default() -> None:
    choice = choose_defaults(_artifacts(), GATE, precision="int8", policy="fallback-fp32")
    assert choice.default_artifact == {"litert": "litert-int8", "onnx": "onnx-int8"}
    assert choice.fell_back == {} and choice.gate is not None
    assert choice.gate.passed and choice.gate.unfaithful == ()


def test_int8_that_fails_a_bar_falls_back_to_fp32_and_is_recorded_unfaithful() -> None:
    # the same figures against a stricter bar (the gate's bar raised in the test, never lowered in the product)
    strict = dataclasses.replace(SHIPPED_BARS, min_rank_correlation=0.999)
    artifacts = _artifacts(strict)
    choice = choose_defaults(artifacts, GATE, precision="int8", policy="fallback-fp32")
    assert choice.default_artifact == {"litert": "litert-fp32", "onnx": "onnx-fp32"}
    assert choice.fell_back == {"litert": "litert-int8", "onnx": "onnx-int8"}
    assert choice.gate is not None and not choice.gate.passed
    assert choice.gate.unfaithful == ("litert-int8", "onnx-int8") and choice.gate.on_failure == "fallback-fp32"


def test_each_runtime_falls_back_on_its_own() -> None:
    weak = dataclasses.replace(FIGURES, threshold_ratio=1.5)  # onnx-int8 only: its threshold is 1.5x FP32's
    choice = choose_defaults(_artifacts(onnx_figures=weak), GATE, precision="int8", policy="fallback-fp32")
    assert choice.default_artifact == {"litert": "litert-int8", "onnx": "onnx-fp32"}
    assert choice.fell_back == {"onnx": "onnx-int8"}


def test_require_int8_is_an_error_naming_the_failed_bar_and_its_value() -> None:
    strict = dataclasses.replace(SHIPPED_BARS, min_rank_correlation=0.999)
    with pytest.raises(FidelityError, match=r"--require-int8: .*litert-int8: .*rank correlation .* 0\.99\d+ < 0\.999"):
        choose_defaults(_artifacts(strict), GATE, precision="int8", policy="require-int8")
    # a faithful INT8 model is fine
    assert choose_defaults(_artifacts(), GATE, precision="int8", policy="require-int8").fell_back == {}


def test_require_int8_refuses_a_model_without_int8() -> None:
    fp32_only = [a for a in _artifacts() if a.precision == "fp32"]
    with pytest.raises(FidelityError, match="no INT8 model"):
        choose_defaults(fp32_only, None, precision="int8", policy="require-int8")


def test_keep_int8_keeps_the_unfaithful_model_and_records_that_it_was_told_to() -> None:
    strict = dataclasses.replace(SHIPPED_BARS, min_rank_correlation=0.999)
    choice = choose_defaults(_artifacts(strict), GATE, precision="int8", policy="keep-int8")
    assert choice.default_artifact == {"litert": "litert-int8", "onnx": "onnx-int8"} and choice.fell_back == {}
    assert choice.gate is not None and choice.gate.on_failure == "keep-int8"
    assert choice.gate.unfaithful == ("litert-int8", "onnx-int8")


def test_precision_fp32_defaults_to_fp32_whatever_the_gate_says() -> None:
    for bars in (SHIPPED_BARS, dataclasses.replace(SHIPPED_BARS, min_rank_correlation=0.999)):
        choice = choose_defaults(_artifacts(bars), GATE, precision="fp32", policy="fallback-fp32")
        assert choice.default_artifact == {"litert": "litert-fp32", "onnx": "onnx-fp32"} and choice.fell_back == {}


def test_the_chosen_defaults_make_a_valid_manifest() -> None:
    """What choose_defaults returns passes the manifest's own rule (no unfaithful default without keep-int8)."""
    strict = dataclasses.replace(SHIPPED_BARS, min_rank_correlation=0.999)
    base = make_manifest()
    for policy in ("fallback-fp32", "keep-int8"):
        artifacts = _artifacts(strict)
        choice = choose_defaults(artifacts, GATE, precision="int8", policy=policy)  # type: ignore[arg-type]
        files = {a.file: base.files["model.bin"] for a in artifacts} | {"probe.npy": base.files["probe.npy"]}
        m = dataclasses.replace(
            base,
            artifacts=tuple(artifacts),
            default_artifact=choice.default_artifact,
            fidelity=choice.gate,
            files=files,
        )
        assert Manifest.from_json(m.to_json()).default_artifact == choice.default_artifact
