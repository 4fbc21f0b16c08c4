"""A small HTTP/1.1 listener with a route table: a server of the tree serving a few read-mostly
endpoints (``/metrics`` here; other components mount theirs on the same listener).

It is deliberately small: one request per connection (``Connection: close``), a request line and
headers of at most ``MAX_HEAD_BYTES``, a body of at most ``MAX_BODY_BYTES`` (``Content-Length`` only),
``READ_TIMEOUT`` seconds to send them. A route is an exact path, or a prefix when it ends with ``/``;
its handler takes an ``HttpRequest`` and returns an ``HttpResponse``. A handler that raises is
answered ``500`` and logged; the listener carries on.

>>> import asyncio, urllib.request
>>> async def hello(request: HttpRequest) -> HttpResponse:
...     return HttpResponse(200, f"hello {request.query.get('name', 'world')}\\n".encode())
>>> async def demo() -> str:
...     listener = await HttpListener.start("127.0.0.1", 0, [Route("/hello", hello)])
...     url = f"http://127.0.0.1:{listener.port}/hello?name=arbord"
...     body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
...     await listener.stop()
...     return body.decode()
>>> asyncio.run(demo())
'hello arbord\\n'

``listener.mount(route)`` adds a route to a running listener (a later component's endpoints), and
``listener.unmount(path)`` removes it.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

from daemon.telemetry.metrics_config import is_loopback
from supervisor import Exit, Server

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "READ_TIMEOUT",
    "HttpListener",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "RouteHandler",
]

log = logging.getLogger("arbord.http")

MAX_HEAD_BYTES: Final = 16 * 1024
MAX_BODY_BYTES: Final = 1024 * 1024
READ_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request: ``path`` without its query, ``query`` its parameters (the last of each name),
    ``headers`` with lower-case names."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response; ``Content-Length`` and ``Connection: close`` are added."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


RouteHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """``path`` (a prefix when it ends with ``/``), its handler, and the methods it answers."""

    path: str
    handler: RouteHandler
    methods: tuple[str, ...] = ("GET", "HEAD")


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpListener(Server):
    """``init(host, port, routes=())``: listens on ``host:port`` (port 0: any free one, see ``port``).
    A host that is not a loopback address is allowed and logged as a warning."""

    async def init(self, host: str, port: int, routes: Sequence[Route] = ()) -> None:
        self.routes: dict[str, Route] = {}
        for route in routes:
            self.mount(route)
        self._connections: set[asyncio.Task[None]] = set()
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD_BYTES)
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.host = host
        if not is_loopback(host):
            log.warning("the HTTP listener's host %s is not a loopback address: others can reach it", host)
        log.info("HTTP listener on %s:%d serving %s", host, self.port, ", ".join(sorted(self.routes)))

    def mount(self, route: Route) -> None:
        """Add (or replace) the route of ``route.path``."""
        self.routes[route.path] = route

    def unmount(self, path: str) -> None:
        """Remove the route of ``path`` (nothing if there is none)."""
        self.routes.pop(path, None)

    def route_for(self, path: str) -> Route | None:
        """The route serving ``path``: the exact one, else the longest prefix route."""
        exact = self.routes.get(path)
        if exact is not None:
            return exact
        prefixes = [r for p, r in self.routes.items() if p.endswith("/") and path.startswith(p)]
        return max(prefixes, key=lambda r: len(r.path), default=None)

    async def terminate(self, reason: Exit) -> None:
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            try:
                async with asyncio.timeout(READ_TIMEOUT):
                    request = await self._read(reader)
                response = await self._answer(request)
                head_only = request.method == "HEAD"
            except _BadRequest as error:
                response, head_only = HttpResponse(error.status, f"{error}\n".encode()), False
            except TimeoutError:
                response, head_only = HttpResponse(HTTPStatus.REQUEST_TIMEOUT, b"request timeout\n"), False
            writer.write(self._encode(response, head_only))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> HttpRequest:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large") from None
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "incomplete request") from None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad request line")
        method, target, _ = parts
        headers = {}
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad header line")
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "bad or too large Content-Length")
        body = await reader.readexactly(int(length)) if int(length) else b""
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        return HttpRequest(method, urllib.parse.unquote(url.path), query, headers, body)

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        route = self.route_for(request.path)
        if route is None:
            return HttpResponse(HTTPStatus.NOT_FOUND, b"not found\n")
        if request.method not in route.methods:
            allowed = ", ".join(route.methods)
            return HttpResponse(
                HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", headers={"Allow": allowed}
            )
        try:
            return await route.handler(request)
        except Exception:
            log.exception("the HTTP route %s failed on %s %s", route.path, request.method, request.path)
            return HttpResponse(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n")

    @staticmethod
    def _encode(response: HttpResponse, head_only: bool) -> bytes:
        try:
            status = HTTPStatus(response.status)
        except ValueError:  # a route's status no HTTP version names: a bug of the route's
            status = HTTPStatus.INTERNAL_SERVER_ERROR
        headers = {
            "Content-Type": response.content_type,
            "Content-Length": str(len(response.body)),
            "Connection": "close",
            **response.headers,
        }
        head = f"HTTP/1.1 {status.value} {status.phrase}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        return (head + "\r\n").encode("latin-1") + (b"" if head_only else response.body)
