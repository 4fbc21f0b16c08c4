"""``ArbordProvider`` through the real OpenFeature SDK: values, reasons, error codes, events."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Iterator

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.bucket import normalized
from daemon.flags.config import FlagsSettings
from daemon.flags.openfeature_provider import ArbordProvider


@pytest.fixture
async def flags() -> AsyncIterator[Flags]:
    settings = FlagsSettings.model_validate({"store": "memory", "beta": {}, "on": {"default": True}})
    server = await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)
    yield server
    if server.alive:
        await server.stop()


@pytest.fixture
def sdk() -> Iterator[None]:
    """The SDK's state is global: leave it as found."""
    yield
    api.shutdown()
    api.clear_hooks()
    api.clear_providers()


class Heard:
    """What the SDK's event handlers heard. The SDK runs handlers on a thread pool, so ``next``
    waits for the next one (in a thread, with a timeout), and order between two is not kept."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[ProviderEvent, EventDetails]] = queue.Queue()

    def handler(self, event: ProviderEvent) -> object:
        return lambda details: self.queue.put((event, details))

    async def next(self) -> tuple[ProviderEvent, EventDetails]:
        return await asyncio.to_thread(self.queue.get, True, 10.0)


def context(key: str | None = None, **attributes: str) -> EvaluationContext:
    return EvaluationContext(targeting_key=key, attributes=attributes)


async def test_values_and_reasons_through_the_client(flags: Flags, sdk: None) -> None:
    api.set_provider_and_wait(ArbordProvider())
    client = api.get_client()
    flags.register_group("staff", lambda ctx: ctx.attributes.get("team") == "staff")

    details = client.get_boolean_details("beta", True)
    assert (details.value, details.reason) == (False, Reason.DEFAULT)
    assert client.get_boolean_details("on", False).reason == Reason.DEFAULT
    assert client.get_boolean_value("on", False) is True

    await flags.enable("beta")
    details = client.get_boolean_details("beta", False)
    assert (details.value, details.reason, details.variant) == (True, Reason.STATIC, "on")
    await flags.disable("beta")
    assert client.get_boolean_details("beta", True).reason == Reason.DISABLED

    await flags.enable("beta", for_group="staff")
    details = client.get_boolean_details("beta", False, context("ann", team="staff"))
    assert (details.value, details.reason) == (True, Reason.TARGETING_MATCH)
    await flags.disable("beta", for_actor="ann")
    details = client.get_boolean_details("beta", True, context("ann", team="staff"))
    assert (details.value, details.reason) == (False, Reason.TARGETING_MATCH)

    await flags.set_percentage("beta", 50, of="actors")
    details = client.get_boolean_details("beta", False, context("122"))
    assert details.reason == Reason.SPLIT
    assert details.flag_metadata["bucket"] == normalized("beta", "122")
    assert details.value is (normalized("beta", "122") <= 50)
    assert details.flag_metadata["revision"] == flags.revision


async def test_an_unknown_flag_is_flag_not_found_with_the_default(flags: Flags, sdk: None) -> None:
    api.set_provider_and_wait(ArbordProvider())
    details = api.get_client().get_boolean_details("nope", True)
    assert (details.value, details.reason, details.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )
    assert flags.lint()["undeclared"] == {"nope": 1}


async def test_other_types_are_type_mismatch(flags: Flags, sdk: None) -> None:
    api.set_provider_and_wait(ArbordProvider())
    client = api.get_client()
    for details in (
        client.get_string_details("beta", "x"),
        client.get_integer_details("beta", 3),
        client.get_float_details("beta", 0.5),
        client.get_object_details("beta", {"a": 1}),
    ):
        assert details.error_code == ErrorCode.TYPE_MISMATCH
        assert details.reason == Reason.ERROR


async def test_stale_flags_are_served_with_reason_stale_and_events(flags: Flags, sdk: None) -> None:
    heard = Heard()
    api.set_provider_and_wait(ArbordProvider(flags))
    stale_handler = heard.handler(ProviderEvent.PROVIDER_STALE)
    api.add_handler(ProviderEvent.PROVIDER_STALE, stale_handler)  # type: ignore[arg-type]
    await flags.enable("beta")
    flags.set_stale(True, "lost the shared store")
    assert (await heard.next())[1].message == "lost the shared store"
    client = api.get_client()
    details = client.get_boolean_details("beta", False)
    assert (details.value, details.reason) == (True, Reason.STALE)
    assert client.get_provider_status() == ProviderStatus.STALE
    ready_handler = heard.handler(ProviderEvent.PROVIDER_READY)
    api.add_handler(ProviderEvent.PROVIDER_READY, ready_handler)  # type: ignore[arg-type]
    flags.set_stale(False)
    assert client.get_boolean_details("beta", False).reason == Reason.STATIC
    event, heard_details = await heard.next()
    assert (event, heard_details.message) == (ProviderEvent.PROVIDER_READY, "the flags are fresh again")
    assert client.get_provider_status() == ProviderStatus.READY
    api.remove_handler(ProviderEvent.PROVIDER_STALE, stale_handler)  # type: ignore[arg-type]
    api.remove_handler(ProviderEvent.PROVIDER_READY, ready_handler)  # type: ignore[arg-type]


async def test_a_change_emits_configuration_changed_naming_the_flag(flags: Flags, sdk: None) -> None:
    heard = Heard()
    handler = heard.handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, handler)  # type: ignore[arg-type]
    try:
        api.set_provider_and_wait(ArbordProvider())
        await flags.enable("beta", for_actor="ann")
        await flags.set_percentage("on", 5)
        changed = [(await heard.next())[1].flags_changed for _ in range(2)]
        assert sorted(map(tuple, changed)) == [("beta",), ("on",)]  # type: ignore[arg-type]
    finally:
        api.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, handler)  # type: ignore[arg-type]


async def test_without_a_flags_server_the_provider_is_not_ready(sdk: None) -> None:
    heard = Heard()
    handler = heard.handler(ProviderEvent.PROVIDER_ERROR)
    api.add_handler(ProviderEvent.PROVIDER_ERROR, handler)  # type: ignore[arg-type]
    try:
        with pytest.raises(ProviderNotReadyError):
            api.set_provider_and_wait(ArbordProvider())
        client = api.get_client()
        assert client.get_provider_status() == ProviderStatus.ERROR
        event, heard_details = await heard.next()
        assert event == ProviderEvent.PROVIDER_ERROR
        assert "flags server" in (heard_details.message or "")
        details = client.get_boolean_details("beta", True)
        assert (details.value, details.reason) == (True, Reason.ERROR)
        assert details.error_code in (ErrorCode.PROVIDER_NOT_READY, ErrorCode.PROVIDER_FATAL)
    finally:
        api.remove_handler(ProviderEvent.PROVIDER_ERROR, handler)  # type: ignore[arg-type]


async def test_shutdown_stops_listening_to_the_flags(flags: Flags, sdk: None) -> None:
    provider = ArbordProvider()
    api.set_provider_and_wait(provider)
    assert flags.listening == 1
    api.shutdown()
    assert flags.listening == 0
