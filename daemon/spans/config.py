"""The ``[spans]`` section: the limits of one span (OpenTelemetry's defaults) and what a stop records.

>>> SpansSettings().max_attributes, SpansSettings().max_events
(128, 128)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SpansSettings"]


class SpansSettings(BaseModel):
    """``[spans]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attributes: int = Field(default=128, ge=0, le=65536)
    """Attributes one span keeps; more are dropped and counted (OTel's span attribute count limit)."""
    max_events: int = Field(default=128, ge=0, le=65536)
    """Events one span keeps (``record_event``); more are dropped and counted."""
    max_links: int = Field(default=128, ge=0, le=65536)
    """Links one span keeps (``link_span``); more are dropped and counted."""
    traceback: bool = False
    """Put the formatted traceback of the exception in the stop event of a span ended by an error."""
