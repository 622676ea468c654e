"""edgewatch — anomaly detection for small industrial edge devices.

The one contract, everywhere in this package: **a higher score means more anomalous.**
Scores are compared with a threshold; ``score > threshold`` is an anomalous reading.

Two halves meet only through the bundle (``edgewatch.bundle``):

* the training side (``edgewatch.train``, ``edgewatch.export``, ``edgewatch.evaluate``) may use
  TensorFlow, scikit-learn and pandas;
* the edge side (``edgewatch.bundle``, ``edgewatch.runtime``, ``edgewatch.core``, ``edgewatch.agent``,
  ``edgewatch.transports``) imports only numpy, paho-mqtt and one runtime (LiteRT or ONNX Runtime).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
