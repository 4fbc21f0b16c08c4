"""``[telemetry]``'s settings for sampled events and sampling: ``[telemetry.events]`` and
``[telemetry.sampling]``.

``[telemetry.sampling]`` maps a dotted event prefix to a strategy (``daemon/telemetry/sampling.py``);
``""`` is the prefix of every event. A bad prefix or strategy is refused at load, naming the key::

    [telemetry.sampling]
    "myapp.db" = "random(0.1)"
    "myapp.http" = "rate_limited(100)"

>>> EventsSettings().dedup_ttl
300.0
>>> check_sampling({"myapp.db": "random(0.1)"})
{'myapp.db': 'random(0.1)'}
>>> check_sampling({"myapp..db": "always"})
Traceback (most recent call last):
...
ValueError: event prefix 'myapp..db' has an empty part
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from daemon.telemetry.sampling import parse_prefix, parse_strategy

__all__ = ["EventsSettings", "SamplingSection", "check_sampling", "default_sampling"]


class EventsSettings(BaseModel):
    """``[telemetry.events]``: the sampled events' part of ``[telemetry]``. Times are seconds.

    ``janitor_interval``: the pause between two sweeps of old dedup keys. ``dedup_ttl``: a dedup key
    not used for this long is swept (Foundation's 5 minutes). ``max_pending``: the most items one
    batch holds; past it an item is dropped and counted (reason ``batch_full``). ``tap_rate``: the
    default events per second of ``arborctl telemetry tap``. ``handler_budget``: a handler of a
    sampled event that runs longer is reported as slow (0: never). ``detach_slow_handlers``: detach
    it as well, as a failing handler is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    janitor_interval: float = Field(default=60.0, ge=0.01, allow_inf_nan=False)
    dedup_ttl: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    max_pending: int = Field(default=100_000, ge=1)
    tap_rate: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    handler_budget: float = Field(default=0.01, ge=0, allow_inf_nan=False)
    detach_slow_handlers: bool = False


def _strategy(text: str) -> str:
    parse_strategy(text)
    return text


def _prefix(text: str) -> str:
    parse_prefix(text)
    return text


def check_sampling(value: dict[str, str]) -> dict[str, str]:
    """Refuse a bad prefix or strategy (the validator of ``[telemetry.sampling]``, usable alone)."""
    for prefix, strategy in value.items():
        _prefix(prefix)
        _strategy(strategy)
    return value


SamplingSection = dict[Annotated[str, AfterValidator(_prefix)], Annotated[str, AfterValidator(_strategy)]]
"""``[telemetry.sampling]``: dotted prefix -> strategy text, each checked where it is written."""


def default_sampling() -> dict[str, str]:
    """No prefix configured: every event is ``always`` sampled."""
    return {}
