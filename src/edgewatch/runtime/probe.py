"""The bundle's probe: does this machine's runtime reproduce the scores the bundle was verified with?

The INT8 fidelity gate (``edgewatch.export.fidelity``) is measured on the machine that builds the bundle,
with that machine's runtime and CPU kernels. The device may run other kernels (an ARM board, an x86 box
without VNNI) or another runtime release, and INT8 arithmetic is where they differ (ONNX Runtime's fast
u8×s8 kernels saturate on x86 CPUs without VNNI, for instance: docs/quantization.md). So every bundle
carries a *probe*: a few scaled model inputs (held-out rows, and the same rows with one sensor pushed 2–6
standard deviations, which is where INT8 arithmetic goes wrong first) and, per artifact, the scores that
artifact gave them at build time. :func:`check_backend` scores the probe on the loaded model and refuses
it when a score moved by more than ``tolerance`` of ``max(|expected|, threshold)`` (higher score = more
anomalous everywhere). Legitimate differences, such as one INT8 quantization step on an ARM CPU, are far
smaller (docs/arm64.md).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgewatch.bundle import Bundle, Manifest, Probe
from edgewatch.data.windows import evenly_spaced
from edgewatch.errors import BundleError, RuntimeBackendError

if TYPE_CHECKING:
    from edgewatch.runtime.backend import Backend

PROBE_FILE = "probe.npy"
DEFAULT_TOLERANCE = 0.1  # of max(|expected score|, the artifact's threshold)
PROBE_ROWS = 32  # held-out inputs; as many again with a sensor pushed (the stress set)


def probe_inputs(held_out: np.ndarray, stressed: np.ndarray, rows: int = PROBE_ROWS) -> np.ndarray:
    """``rows`` evenly spaced held-out inputs (n, window, F) followed by as many stressed ones."""
    pick = evenly_spaced(len(held_out), rows)
    return np.concatenate([held_out[pick], stressed[pick]]).astype(np.float32)


def to_bytes(inputs: np.ndarray) -> bytes:
    """The probe file's content: a plain ``.npy`` array, loadable without pickle."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(inputs, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def record(n_rows: int, tolerance: float = DEFAULT_TOLERANCE) -> Probe:
    """The manifest's ``probe`` (each artifact's scores go in its own ``probe_scores``)."""
    rule = "every probe score within tolerance x max(|expected|, the artifact's threshold)"
    return Probe(file=PROBE_FILE, rows=n_rows, tolerance=tolerance, rule=rule)


def deviations(expected: np.ndarray, observed: np.ndarray, threshold: float) -> np.ndarray:
    """Per probe row ``|observed - expected| / max(|expected|, threshold)`` (NaN in either: infinite)."""
    expected = np.asarray(expected, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    scale = np.maximum(np.abs(expected), threshold)
    out = np.abs(observed - expected) / scale
    return np.where(np.isfinite(out), out, np.inf)


def load_inputs(path: Path, manifest: Manifest) -> np.ndarray:
    """Read the probe inputs and check their shape against the manifest; BundleError naming the file."""
    try:
        inputs: np.ndarray = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a readable probe array ({exc})") from None
    expected = (manifest.probe.rows, manifest.window, manifest.n_features)
    if inputs.shape != expected or inputs.dtype != np.float32:
        raise BundleError(
            f"{path}: probe array is {inputs.dtype} {inputs.shape}, the manifest needs float32 {expected}"
        )
    return inputs


def check_backend(bundle: Bundle, backend: Backend) -> float:
    """Score the bundle's probe with ``backend``; return the largest deviation. Raise
    :class:`RuntimeBackendError` naming the artifact, the row and both scores when a score moved by more than
    the manifest's tolerance."""
    manifest = bundle.manifest
    artifact = backend.artifact
    expected = np.asarray(artifact.probe_scores, dtype=np.float64)
    observed = backend.score_batch(load_inputs(bundle.file(manifest.probe.file), manifest)).scores
    threshold = artifact.threshold.value
    dev = deviations(expected, observed, threshold)
    worst = int(np.argmax(dev))
    tolerance = manifest.probe.tolerance
    if dev[worst] > tolerance:
        raise RuntimeBackendError(
            f"{artifact.name}: this machine's runtime does not reproduce the scores the bundle was verified with: "
            f"probe row {worst} scored {observed[worst]:.6g}, expected {expected[worst]:.6g} "
            f"({dev[worst]:.0%} of max(|expected|, threshold {threshold:.4g}) > {tolerance:.0%}; "
            f"{int(np.count_nonzero(dev > tolerance))} of {len(dev)} rows off). The fidelity figures in the "
            "manifest do not hold here (another runtime release or CPU kernels?); run another artifact "
            "(--artifact) or rebuild the bundle with the runtime this device has"
        )
    return float(dev[worst])
