"""``[telemetry]``'s settings for sampled events and sampling (``[telemetry.sampling]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["EventsSettings"]


class EventsSettings(BaseModel):
    """The sampled events' part of ``[telemetry]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
