"""The sampled events' place in the tree: the keeper of the telemetry server's tables, then the
server, both children of the daemon's root (through the TELEMETRY component)::

    arbord.root
    ├── ...
    ├── telemetry_keeper  TableKeeper      arbord.telemetry.keeper   heir of the server's tables
    ├── telemetry         TelemetryServer  arbord.telemetry          sampled events, sampling
    ...

The keeper comes first, so it is there when the server starts and still there when it stops. A
crash of the server is restarted by the root and the new one claims the tables back. A reload that
changes ``[telemetry]`` replaces the keeper, then the server (child by child, in this order): the
server flushes its batches as it stops and its tables pass to the new keeper, so the counters go on
(the same ``generation``) and the new server applies the new ``[telemetry.sampling]``.

>>> [(spec.id, spec.name) for spec in events_child_specs(TelemetrySettings())]
[('telemetry_keeper', 'arbord.telemetry.keeper'), ('telemetry', 'arbord.telemetry')]
"""

from __future__ import annotations

from daemon.registry.keeper import TableKeeper
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.server import KEEPER_NAME, TelemetryServer
from supervisor import ChildSpec

__all__ = ["KEEPER_ID", "SERVER_ID", "events_child_specs"]

KEEPER_ID = "telemetry_keeper"
SERVER_ID = "telemetry"


def events_child_specs(settings: TelemetrySettings) -> tuple[ChildSpec, ...]:
    """The keeper and the telemetry server, for the daemon's root."""
    return (
        ChildSpec(KEEPER_ID, TableKeeper, kwargs={"announce_to": (SERVER_NAME,)}, name=KEEPER_NAME),
        ChildSpec(
            SERVER_ID,
            TelemetryServer,
            args=(settings,),
            kwargs={"keeper": KEEPER_NAME},
            name=SERVER_NAME,
        ),
    )
