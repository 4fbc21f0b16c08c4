"""An OpenFeature provider over arbord's flags (the ``openfeature`` extra: ``openfeature-sdk``).

Applications use OpenFeature's standard client; arbord evaluates, in the caller's task as always::

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    api.set_provider(ArbordProvider())
    client = api.get_client()
    client.get_boolean_value("new_checkout", False, EvaluationContext(targeting_key="alice"))

The evaluation context's ``targeting_key`` is the actor; the registered groups' membership functions
receive the ``EvaluationContext`` itself (so they can read its attributes). The details' reason says
what decided:

=================== ===================================================================
``TARGETING_MATCH`` an actor's or a group's gate
``STATIC``          the boolean gate, on
``DISABLED``        the boolean gate, off
``SPLIT``           a percentage gate (of time or of actors)
``DEFAULT``         no gate decided: the flag's declared default (or off)
``STALE``           any of the above while the flags in force are stale (a shared store lost)
``ERROR``           with ``FLAG_NOT_FOUND`` (an unknown flag: the default value is returned),
                    ``TYPE_MISMATCH`` (arbord's flags are booleans) or ``PROVIDER_NOT_READY``
=================== ===================================================================

The variant is ``on`` or ``off``; the flag metadata carries the gate, the revision in force and, for
a percentage of actors, the actor's bucket. Events: READY when ``set_provider`` initialises it (the
SDK emits it), CONFIGURATION_CHANGED after each change in force (``flags_changed`` names the flag),
STALE when the flags become stale, READY again when they are fresh, ERROR if the flags server is
not running at ``initialize``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from daemon.flags.binding import flags_server
from daemon.flags.evaluate import Decision
from daemon.flags.reasons import reason_name
from daemon.flags.server import Flags, FlagsEvent
from supervisor.errors import NoProc

__all__ = ["PROVIDER_NAME", "ArbordProvider", "reason_of"]

PROVIDER_NAME: Final = "arbord"
T = TypeVar("T")


def reason_of(decision: Decision) -> Reason:
    """The OpenFeature reason of a decision (table in the module docstring; staleness aside): the
    table OFREP uses too (``daemon.flags.reasons``)."""
    return Reason(reason_name(decision))


class ArbordProvider(AbstractProvider):
    """OpenFeature's provider for arbord's flags. ``ArbordProvider(flags=None)``: the flags server to
    read (None: the running ``arbord.flags``, found on each evaluation, so a restart of the flags
    server is followed)."""

    def __init__(self, flags: Flags | None = None) -> None:
        super().__init__()
        self._flags = flags
        self._stop_listening: Callable[[], None] | None = None
        # The details of a flag whose decision is one for everyone (the same ``Decision`` object
        # while its state is in force), built once per revision: the SDK's cost is then its own.
        self._static: dict[str, tuple[Decision, int, FlagResolutionDetails[bool]]] = {}

    def _server(self) -> Flags:
        if self._flags is not None:
            if not self._flags._ready or not self._flags.alive:
                raise NoProc("the flags server given to the provider is not running")
            return self._flags
        return flags_server()

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Find the flags server and listen to it; ``ProviderNotReadyError`` if it is not running
        (the SDK then emits ERROR)."""
        try:
            server = self._server()
        except NoProc as error:
            raise ProviderNotReadyError(str(error)) from None
        self._stop_listening = server.listen(self._heard)

    def shutdown(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _heard(self, event: FlagsEvent) -> None:
        if event.kind == "changed":
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=list(event.flags)))
        elif event.kind == "stale":
            self.emit_provider_stale(ProviderEventDetails(message=event.why or "the flags are stale"))
        else:
            self.emit_provider_ready(ProviderEventDetails(message="the flags are fresh again"))

    # --- resolution -----------------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        try:
            server = self._server()
        except NoProc as error:
            return FlagResolutionDetails(
                default_value, ErrorCode.PROVIDER_NOT_READY, str(error), Reason.ERROR
            )
        actor = evaluation_context.targeting_key if evaluation_context is not None else None
        decision = server.decision(flag_key, actor, evaluation_context)
        cached = self._static.get(flag_key)
        if cached is not None and cached[0] is decision and cached[1] == server.revision and not server.stale:
            return cached[2]
        if decision.gate == "unknown":
            return FlagResolutionDetails(
                default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag named {flag_key!r}", Reason.ERROR
            )
        metadata: dict[str, bool | int | float | str] = {"gate": decision.gate, "revision": server.revision}
        if decision.bucket is not None:
            metadata["bucket"] = decision.bucket
        reason = Reason.STALE if server.stale else reason_of(decision)
        details = FlagResolutionDetails(
            decision.value, reason=reason, variant="on" if decision.value else "off", flag_metadata=metadata
        )
        if decision.gate in ("boolean", "default") and not server.stale:
            self._static[flag_key] = (decision, server.revision, details)
        return details

    def _mismatch(self, flag_key: str, default_value: T, kind: str) -> FlagResolutionDetails[T]:
        return FlagResolutionDetails(
            default_value,
            ErrorCode.TYPE_MISMATCH,
            f"arbord's flags are booleans: {flag_key!r} has no {kind} value",
            Reason.ERROR,
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._mismatch(flag_key, default_value, "string")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._mismatch(flag_key, default_value, "integer")

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._mismatch(flag_key, default_value, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        return self._mismatch(flag_key, default_value, "object")
