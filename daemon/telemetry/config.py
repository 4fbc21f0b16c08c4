"""The ``[telemetry]`` section: the sampled events' part (``daemon/telemetry/sampling_config.py``)
and the metrics' part (``daemon/telemetry/metrics_config.py``), one TOML section.

>>> TelemetrySettings().events == EventsSettings()
True
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from daemon.telemetry import metrics_config
from daemon.telemetry.metrics_config import MetricsSettings
from daemon.telemetry.sampling_config import EventsSettings, SamplingSection, default_sampling

__all__ = ["EventsSettings", "MetricsSettings", "TelemetrySettings"]


class TelemetrySettings(BaseModel):
    """``[telemetry]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: EventsSettings = Field(default_factory=EventsSettings)
    sampling: SamplingSection = Field(default_factory=default_sampling)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    prometheus: metrics_config.PrometheusSettings = Field(default_factory=metrics_config.PrometheusSettings)
    poller: metrics_config.PollerSettings = Field(default_factory=metrics_config.PollerSettings)
