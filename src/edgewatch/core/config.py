"""What a device may tune about judging readings, and how the bundle completes it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from edgewatch.core.alerts import AlertConfig
from edgewatch.core.checks import CheckConfig
from edgewatch.core.thresholds import ThresholdConfig

if TYPE_CHECKING:
    from edgewatch.bundle import Manifest


@dataclass(frozen=True)
class PipelineConfig:
    """What a device may tune about judging readings: the agent configuration's ``[thresholds]``,
    ``[alerts]`` and ``[checks]`` sections (the defaults are the shipped ones). ``edgewatch replay`` and
    ``evaluate`` read the same sections from ``--config``."""

    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    checks: CheckConfig = field(default_factory=CheckConfig)

    def to_json(self) -> dict[str, Any]:
        """The sections as JSON (an infinite number, meaning "never" or "off", is ``null``)."""
        return {name: _finite_or_none(asdict(getattr(self, name))) for name in ("thresholds", "alerts", "checks")}


def _finite_or_none(section: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in section.items()}


def with_run_indicator(config: PipelineConfig, manifest: Manifest) -> PipelineConfig:
    """``config``, its alert policy suppressing alerts by the bundle's run indicator when the config names
    none itself and does not turn that off (``alerts.suppress_from_bundle``)."""
    alerts, found = config.alerts, manifest.run_indicator
    if alerts.suppress_feature or not alerts.suppress_from_bundle or found is None:
        return config
    return replace(config, alerts=replace(alerts, suppress_feature=found.feature, suppress_below=found.below))
