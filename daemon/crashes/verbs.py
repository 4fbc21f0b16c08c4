"""``crashes`` (the newest crash records, one line each) and ``crashes.show`` (one, in full)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.crashes.server import CRASHES_NAME
from daemon.errors import ControlError
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from supervisor import call, whereis

__all__ = ["crash_methods"]


class ListParams(BaseModel):
    """``crashes``: the newest ``limit`` records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=20, ge=1, le=100_000)


class ShowParams(BaseModel):
    """``crashes.show``: one record by its id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=1)


async def _ask(request: tuple[Any, ...]) -> Any:
    server = whereis(CRASHES_NAME)
    if server is None:
        raise ControlError(ErrorCode.BUSY, "the crash log is restarting; try again")
    return await call(server, request)


@verb("crashes", "the newest crash records: child, error, restart decision")
async def crashes(params: ListParams, context: MethodContext) -> dict[str, Any]:
    result: dict[str, Any] = await _ask(("list", params.limit))
    return result


@verb("crashes.show", "one crash record: exception chain, context, decision")
async def crashes_show(params: ShowParams, context: MethodContext) -> dict[str, Any]:
    record: dict[str, Any] | None = await _ask(("show", params.id))
    if record is None:
        raise ControlError(
            ErrorCode.NOT_FOUND, f"no crash {params.id} (dropped, or never)", {"id": params.id}
        )
    return record


def crash_methods() -> tuple[Method, ...]:
    """The crash log's verbs."""
    return methods_of(globals())
