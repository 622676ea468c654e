"""edgewatch.core: the pure logic shared by the device agent, ``replay`` and ``evaluate``.

Only the standard library and numpy; no I/O and no clock (times are passed in). Scores: **higher =
more anomalous**, ``score > threshold`` is an anomalous reading.
"""

from edgewatch.core.alerts import AlertConfig, AlertDecision, AlertPolicy, severity_for
from edgewatch.core.checks import CheckConfig, RangeCheck, StuckDetector
from edgewatch.core.config import PipelineConfig
from edgewatch.core.device import DeviceState
from edgewatch.core.events import (
    AlertEvent,
    Event,
    FeatureShare,
    InputRejected,
    ScoredReading,
    SensorFault,
)
from edgewatch.core.payload import PayloadParser, Reading, parse_reading
from edgewatch.core.pipeline import COUNTER_KEYS, Pipeline, Scorer
from edgewatch.core.thresholds import (
    AdaptiveThreshold,
    FixedThreshold,
    ThresholdConfig,
    make_threshold,
)
from edgewatch.core.timestamps import parse_timestamp

__all__ = [
    "COUNTER_KEYS",
    "AdaptiveThreshold",
    "AlertConfig",
    "AlertDecision",
    "AlertEvent",
    "AlertPolicy",
    "CheckConfig",
    "DeviceState",
    "Event",
    "FeatureShare",
    "FixedThreshold",
    "InputRejected",
    "PayloadParser",
    "Pipeline",
    "PipelineConfig",
    "RangeCheck",
    "Reading",
    "ScoredReading",
    "Scorer",
    "SensorFault",
    "StuckDetector",
    "ThresholdConfig",
    "make_threshold",
    "parse_reading",
    "parse_timestamp",
    "severity_for",
]
