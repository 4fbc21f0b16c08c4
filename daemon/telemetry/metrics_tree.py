"""The metrics' place in the tree: children of the root, after the telemetry server.

::

    arbord.root
    ├── metrics       MetricsServer   arbord.metrics         the tables and their handlers
    ├── poller        Poller          arbord.metrics.poller  unless [telemetry.poller] enabled = false
    ├── http          HttpListener    arbord.http            only with [telemetry.prometheus] listen

Each finds the others by name (``whereis``): the listener's ``/metrics`` reads ``arbord.metrics``'s
tables, so a restart of one needs no restart of the other.

>>> from daemon.telemetry.config import TelemetrySettings
>>> [spec.name for spec in metrics_child_specs(TelemetrySettings())]
['arbord.metrics', 'arbord.metrics.poller']
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

from daemon.telemetry.aggregation import METRICS_NAME, MetricsServer, metrics_server
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.http_listener import HttpListener, HttpRequest, HttpResponse, Route
from daemon.telemetry.poller import POLLER_NAME, Poller
from supervisor import ChildSpec

__all__ = ["HTTP_NAME", "METRICS_ROUTE", "metrics_child_specs", "serve_metrics"]

HTTP_NAME: Final = "arbord.http"
"""The HTTP listener's registered name: ``whereis(HTTP_NAME).mount(Route(...))`` adds a route."""


async def serve_metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the exposition, or ``503`` while the metrics server is restarting."""
    # prometheus_client is imported by the first scrape, not at start (docs/performance.md, "The daemon").
    from daemon.telemetry.prometheus import CONTENT_TYPE, exposition

    server = metrics_server()
    if server is None:
        return HttpResponse(HTTPStatus.SERVICE_UNAVAILABLE, b"the metrics server is not running\n")
    return HttpResponse(HTTPStatus.OK, exposition(server, accounting=True).encode("utf-8"), CONTENT_TYPE)


METRICS_ROUTE: Final = Route("/metrics", serve_metrics)


def metrics_child_specs(section: TelemetrySettings) -> list[ChildSpec]:
    """The metrics server, the poller unless disabled, and the HTTP listener when
    ``[telemetry.prometheus] listen`` is set."""
    specs = [ChildSpec("metrics", MetricsServer, args=(section.metrics.metrics(),), name=METRICS_NAME)]
    if section.poller.enabled:
        specs.append(ChildSpec("poller", Poller, args=(section.poller,), name=POLLER_NAME))
    address = section.prometheus.address()
    if address is not None:
        host, port = address
        specs.append(ChildSpec("http", HttpListener, args=(host, port, [METRICS_ROUTE]), name=HTTP_NAME))
    return specs
