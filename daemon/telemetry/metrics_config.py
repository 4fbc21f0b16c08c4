"""``[telemetry]``'s settings for metrics, their export and the poller (``[telemetry.metrics]``,
``[telemetry.prometheus]``, ``[telemetry.poller]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MetricsSettings"]


class MetricsSettings(BaseModel):
    """The metrics' part of ``[telemetry]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
