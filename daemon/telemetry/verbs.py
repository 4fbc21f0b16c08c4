"""The sampled events' control verbs: ``telemetry.events``, ``telemetry.stats``, ``telemetry.tap``,
``telemetry.sampling.get`` and ``telemetry.sampling.set`` (``arborctl telemetry ...`` and the
console's ``telemetry`` command use the same handlers).

``telemetry.tap`` streams the sampled events under a prefix as they go out, at most ``rate`` per
second (default ``[telemetry.events] tap_rate``), sampled on the daemon's side: an event over the
rate, or one the client is too slow to take (a queue of 100), is counted as ``missed`` and never
waited for. The tap is owned by the connection's task: when the client disconnects it is removed,
whatever the stream was doing. ``limit`` ends the stream after that many events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.telemetry.hub import SERVER_NAME, Tap, current_hub
from daemon.telemetry.sampling import Strategy, make_decider, parse_prefix
from daemon.telemetry.server import (
    AddTap,
    GetSampling,
    GetStats,
    SetSampling,
    TelemetryServer,
    call_telemetry,
    remove_tap,
)
from daemon.verbs.codes import ErrorCode
from daemon.verbs.jsonable import jsonable
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb
from supervisor import telemetry, whereis

__all__ = ["TAP_DEPTH", "events_methods", "parse_rate"]

TAP_DEPTH = 100
"""How many events a tap holds for a client that reads slower than they come."""

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class PrefixParams(BaseModel):
    """An event prefix, dotted (``"myapp.db"``; ``""``: every event)."""

    model_config = _FROZEN

    prefix: str = ""


class SetSamplingParams(BaseModel):
    """``telemetry.sampling.set``: the strategy of a prefix (``"default"`` for the prefix ``""``);
    ``"unset"`` removes the prefix's own strategy (its events fall back to a shorter prefix's)."""

    model_config = _FROZEN

    prefix: str
    strategy: str


class TapParams(BaseModel):
    """``telemetry.tap``: events under ``prefix``, at most ``rate`` a second (``10`` or ``"10/s"``),
    ending after ``limit`` events (none: until the client disconnects)."""

    model_config = _FROZEN

    prefix: str = ""
    rate: float | str | None = None
    limit: Annotated[int, Field(ge=1)] | None = None


def parse_rate(rate: float | str) -> float:
    """Events per second from ``10``, ``"10"`` or ``"10/s"``; ``ValueError`` unless positive."""
    text = str(rate).strip()
    if text.endswith("/s"):
        text = text[:-2]
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"a tap rate is a number of events per second such as 10 or '10/s', got {rate!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"a tap rate must be a positive number of events per second, got {rate!r}")
    return value


def _server() -> TelemetryServer:
    server = whereis(SERVER_NAME)
    if not isinstance(server, TelemetryServer):
        message = f"the telemetry server {SERVER_NAME} is not running"
        raise ControlError(ErrorCode.SERVER_DOWN, message, {"server": SERVER_NAME})
    return server


def _prefix(text: str) -> tuple[str, ...]:
    try:
        return parse_prefix(text)
    except (TypeError, ValueError) as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error)) from None


@verb("telemetry.stats", "the sampled events' exact counters per event name, and the generation")
async def telemetry_stats(params: PrefixParams, context: MethodContext) -> dict[str, Any]:
    stats: dict[str, Any] = await _server().call(GetStats(_prefix(params.prefix)))
    return stats


@verb("telemetry.events", "the event names seen: strategy, received, emitted, handlers attached")
async def telemetry_events(params: PrefixParams, context: MethodContext) -> list[dict[str, Any]]:
    prefix = _prefix(params.prefix)
    stats = await _server().call(GetStats(prefix))
    hub = current_hub()
    rows = []
    for row in stats["events"]:
        event = tuple(row["event"].split("."))
        decider = hub.decider_for(event) if hub is not None else None
        rows.append(
            {
                "event": row["event"],
                "strategy": "always" if decider is None else decider.strategy.text,
                "received": row["received"],
                "emitted": row["emitted"],
                "handlers": len([h for h in telemetry.list_handlers(event) if h.event == event]),
            }
        )
    return rows


@verb("telemetry.sampling.get", "the sampling strategy of each configured event prefix")
async def telemetry_sampling_get(params: NoParams, context: MethodContext) -> dict[str, str]:
    sampling: dict[str, str] = await _server().call(GetSampling())
    return sampling


@verb("telemetry.sampling.set", "set a prefix's sampling strategy (always, never, random(r), ...)")
async def telemetry_sampling_set(params: SetSamplingParams, context: MethodContext) -> dict[str, str]:
    prefix = "" if params.prefix == "default" else params.prefix
    strategy = None if params.strategy == "unset" else params.strategy
    try:
        sampling: dict[str, str] = await call_telemetry(_server(), SetSampling(prefix, strategy))
    except (TypeError, ValueError) as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error)) from None
    return sampling


@verb(
    "telemetry.tap", "stream the sampled events under a prefix as they go out (rate-limited)", streamed=True
)
async def telemetry_tap(params: TapParams, context: MethodContext) -> AsyncIterator[dict[str, Any]]:
    prefix = _prefix(params.prefix)
    server = _server()
    try:
        rate = parse_rate(params.rate if params.rate is not None else server.settings.events.tap_rate)
    except ValueError as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error)) from None
    decider = make_decider(Strategy("rate_limited", (rate,)))
    assert decider is not None
    tap = Tap(prefix, decider, context.connection.task, TAP_DEPTH)
    await server.call(AddTap(tap))
    try:
        sent = 0
        while params.limit is None or sent < params.limit:
            event, measurements, metadata = await tap.queue.get()
            sent += 1
            yield {
                "event": ".".join(event),
                "measurements": jsonable(measurements),
                "metadata": jsonable(metadata),
                "missed": tap.missed,
            }
    finally:
        remove_tap(tap)  # no await here: this also runs as the connection's task is cancelled


def events_methods() -> tuple[Method, ...]:
    """The sampled events' verbs, for the TELEMETRY component."""
    return methods_of(globals())
