"""Model bundles: the only contract between training and the device.

A bundle is a directory holding ``manifest.json`` and the model files it lists with their sha256.
This package is edge-side: it imports only the standard library and numpy.
"""

from edgewatch.bundle.manifest import (
    SCHEMA_VERSION,
    FeatureStats,
    Manifest,
    Scaler,
    Threshold,
)
from edgewatch.bundle.store import Bundle, load_bundle, write_bundle

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "FeatureStats",
    "Manifest",
    "Scaler",
    "Threshold",
    "load_bundle",
    "write_bundle",
]
