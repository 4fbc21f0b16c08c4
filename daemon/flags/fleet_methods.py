"""The flags' fleet verbs: ``flags.status`` (where the flags come from, how current they are) and
``flags.wait`` (a convergence barrier for deploy scripts). Both are reads, open to any peer.

With the shared store (``[flags] store = "redis"``) several daemons serve one fleet's flags::

    arborctl flags enable new_checkout            # prints the change's revision, e.g. 42
    arborctl flags wait --revision 42 --timeout 10   # every live daemon has applied 42 (else exit 1)
    arborctl flags status                         # this daemon: revision, in sync, stale, the store

``flags.wait`` reads the daemons' heartbeats in the store (``daemon.flags.redis_store``): each live
daemon reports the revision it has applied, and the verb returns once all of them report at least
``revision``, or fails with ``timeout`` naming those behind. ``arborctl``'s ``--timeout`` bounds the
wait too (it is sent as the verb's ``timeout``, a little shorter, so that the answer comes in time).
With a local store (``sqlite``, ``memory``) this daemon is the whole fleet: the answer is at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.flags.binding import FLAGS_NAME, flags_server
from daemon.flags.redis_store import NotConverged, RedisStore
from daemon.flags.server import Flags
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb
from supervisor.errors import NoProc

__all__ = ["fleet_methods"]


class WaitParams(BaseModel):
    """``flags.wait REVISION [timeout=S]``: S seconds at most (``arborctl --timeout`` sets it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: int = Field(ge=0)
    timeout: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)


def _server() -> Flags:
    try:
        return flags_server()
    except NoProc as error:
        raise ControlError(ErrorCode.SERVER_DOWN, str(error), {"server": FLAGS_NAME}) from None


def _local_status(server: Flags) -> dict[str, Any]:
    return {
        "store": server.settings.store,
        "location": server.store.location,
        "revision": server.revision,
        "in_sync": True,
        "stale": False,
    }


def _with_read_only(server: Flags, status: dict[str, Any]) -> dict[str, Any]:
    """``read_only``: None while writes are taken, else since when and why not (read_only.py)."""
    status["read_only"] = server.read_only_status()
    return status


@verb("flags.status", "the flags' store: where, this daemon's revision, in sync or stale, read-only")
async def flags_status(params: NoParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    store = server.store
    if isinstance(store, RedisStore):
        return _with_read_only(server, store.status())
    return _with_read_only(server, _local_status(server))


@verb("flags.wait", "wait until every live daemon sharing the store has applied REVISION")
async def flags_wait(params: WaitParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    store = server.store
    if isinstance(store, RedisStore):
        report = await store.wait_for_revision(params.revision, params.timeout)
        return {"revision": params.revision, **report.to_json()}
    if server.revision < params.revision:
        raise NotConverged(
            f"this daemon's {server.settings.store} store is at revision {server.revision}, "
            f"not {params.revision}, and no other daemon shares it"
        )
    node = {"node": "local", "revision": server.revision, "stale": False}
    return {"revision": params.revision, "store_revision": server.revision, "nodes": [node]}


def fleet_methods() -> tuple[Method, ...]:
    """The fleet verbs (registered beside ``daemon.flags.methods``' in the flags component)."""
    return methods_of(globals())
