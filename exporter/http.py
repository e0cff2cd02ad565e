"""HTTP endpoints (DESIGN §8) on aiohttp: /metrics, /, /-/healthy, /-/ready, POST /-/reload.

TLS, basic auth and response headers come from the web config of the running configuration.
Every connection goes through a `_Connection` guard that enforces `server.max_connections`
and closes requests that dribble in too slowly: aiohttp itself has no header-read timeout,
so without this a slow client could hold a connection (and, many of them, the server) for
as long as it likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from exporter import __version__
from exporter.app import Exporter, Runtime
from exporter.config import ServerConfig
from exporter.exposition import wants_gzip, wants_openmetrics
from exporter.webconfig import BasicAuth, WebSettings, parse_authorization

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
    b"Connection: close\r\n\r\nToo many connections, retry.\r\n"
)


@dataclass(frozen=True)
class Limits:
    """What one client may hold; the defaults suit Prometheus scraping every few seconds or more."""

    max_connections: int = 64
    request_timeout: float = 10.0
    """A request that has started to arrive must be complete (line and headers) within this."""
    idle_timeout: float = 75.0
    """An idle keep-alive connection is closed after this; Prometheus reconnects cheaply."""
    response_timeout: float = 60.0
    """A response must be handled and written within this (a client that stops reading loses it)."""
    handshake_timeout: float = 10.0
    """A TLS handshake must complete within this."""
    max_auth_pending: int = 16
    """bcrypt checks waiting at once; beyond this, 429 (a flood of guesses cannot queue unbounded work)."""


# --- connection guard -------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """Wraps aiohttp's per-connection protocol to know when it is idle, busy or stuck mid-request."""

    def __init__(self, tracker: ConnectionTracker, inner: asyncio.Protocol) -> None:
        self.tracker = tracker
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.admitted = False
        self.active = 0
        self.since = tracker.clock()
        """When the connection last became idle (opened, or finished a response)."""
        self.partial_since: float | None = None
        """When bytes of a request not yet complete started to arrive."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.tracker.admit(self):
            transport.write(REFUSED)
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if self.active == 0 and self.partial_since is None:
            self.partial_since = self.tracker.clock()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.tracker.release(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def begin(self) -> None:
        """A complete request head arrived and its handler starts."""
        self.active += 1
        self.partial_since = None

    def end(self) -> None:
        self.active -= 1
        self.since = self.tracker.clock()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ConnectionTracker:
    """Counts connections, refuses or evicts beyond the limit, and sweeps out slow requests.

    At the limit a new connection evicts the connection that has been idle (or stuck before
    sending a complete request) the longest, then the oldest response that has run for more
    than a second; only when every connection is busy with a fresh request is it refused.
    Prometheus connects and sends its request at once, so it is never the one evicted.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.connections: dict[asyncio.BaseTransport, _Connection] = {}
        self.closed: dict[str, int] = {}
        self._reported: dict[str, tuple[float, int]] = {}

    def admit(self, connection: _Connection) -> bool:
        assert connection.transport is not None
        if len(self.connections) >= self.limits.max_connections:
            victim = self._victim()
            if victim is None:
                self.count("refused")
                return False
            self.count("evicted")
            self._drop(victim)
        self.connections[connection.transport] = connection
        return True

    def release(self, connection: _Connection) -> None:
        if connection.transport is not None and self.connections.get(connection.transport) is connection:
            del self.connections[connection.transport]

    def lookup(self, transport: asyncio.BaseTransport | None) -> _Connection | None:
        return self.connections.get(transport) if transport is not None else None

    def _victim(self) -> _Connection | None:
        idle = [c for c in self.connections.values() if c.active == 0]
        if idle:
            return min(idle, key=lambda c: c.partial_since if c.partial_since is not None else c.since)
        now = self.clock()
        busy = [c for c in self.connections.values() if now - c.since > 1.0]
        return min(busy, key=lambda c: c.since) if busy else None

    def _drop(self, connection: _Connection) -> None:
        self.release(connection)
        connection.abort()

    def sweep(self) -> None:
        """Close connections whose request has been arriving for longer than `request_timeout`."""
        now = self.clock()
        for connection in list(self.connections.values()):
            if (
                connection.active == 0
                and connection.partial_since is not None
                and now - connection.partial_since > self.limits.request_timeout
            ):
                self.count("slow_request")
                self._drop(connection)

    def count(self, reason: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1
        # At most one log line per reason and minute: an attack must not flood the log too.
        now = self.clock()
        last, count = self._reported.get(reason, (-1e9, 0))
        if now - last >= 60:
            log.warning(
                "HTTP connections closed (%s): %d since the last report; max_connections=%d",
                reason,
                self.closed[reason] - count,
                self.limits.max_connections,
            )
            self._reported[reason] = (now, self.closed[reason])


# --- application ------------------------------------------------------------------------------


def _landing(exporter: Exporter, metrics_path: str) -> str:
    runtime = exporter.runtime
    rows = ""
    if runtime is not None:
        rows = "".join(
            f"<tr><td>{html.escape(p.name)}</td><td>{html.escape(p.origin)}</td>"
            f"<td>{p.interval.total_seconds():g}s</td></tr>"
            for p in runtime.providers
        )
        backend = html.escape(runtime.database.backend.name)
    else:
        backend = "not configured"
    path = html.escape(metrics_path)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>commerce-exporter</title></head><body>"
        f"<h1>commerce-exporter {html.escape(__version__)}</h1>"
        f"<p>Prometheus exporter for multi-tenant commerce platforms ({backend} database).</p>"
        f"<ul><li><a href='{path}'>Metrics</a></li><li><a href='/-/healthy'>Health</a></li>"
        "<li><a href='/-/ready'>Readiness</a></li></ul>"
        f"<table><tr><th>Provider</th><th>Origin</th><th>Interval</th></tr>{rows}</table>"
        "</body></html>"
    )


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="commerce-exporter", charset="UTF-8"'}


class HttpServer:
    """The listening socket, the aiohttp application and the connection guard.

    The socket is bound once; TLS settings change (on reload) by starting a new asyncio server
    on a duplicate of the same socket and closing the old one, so the port never stops
    accepting and connections already open finish on the settings they started with.
    """

    def __init__(self, exporter: Exporter, server: ServerConfig, limits: Limits | None = None) -> None:
        self.exporter = exporter
        self.server = server
        self.limits = limits or Limits(max_connections=server.max_connections)
        self.tracker = ConnectionTracker(self.limits)
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._listener: asyncio.Server | None = None
        self._ssl: ssl.SSLContext | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # One bcrypt check at a time, as the toolkit does: it is CPU-bound by design.
        self._bcrypt = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
        self._auth_pending = 0

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    # --- application ----------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application; request bodies are refused (nothing here reads one)."""
        app = web.Application(client_max_size=1024, middlewares=[self._guard])
        app.on_response_prepare.append(self._add_headers)
        exporter = self.exporter
        metrics_path = self.server.metrics_path

        async def metrics(request: web.Request) -> web.StreamResponse:
            body = exporter.scrape(
                openmetrics=wants_openmetrics(request.headers.get("Accept")),
                gzip=wants_gzip(request.headers.get("Accept-Encoding")),
            )
            response = web.StreamResponse(
                headers={
                    "Content-Type": body.content_type,
                    "Vary": "Accept, Accept-Encoding",
                    "Cache-Control": "no-store",
                }
            )
            if body.gzip:
                response.headers["Content-Encoding"] = "gzip"
            response.content_length = body.length
            await response.prepare(request)
            if request.method != "HEAD":
                for piece in body.pieces:
                    await response.write(piece)
            await response.write_eof()
            return response

        async def landing(request: web.Request) -> web.Response:
            return web.Response(text=_landing(exporter, metrics_path), content_type="text/html")

        async def healthy(request: web.Request) -> web.Response:
            return web.Response(text="OK\n")

        async def ready(request: web.Request) -> web.Response:
            if exporter.ready():
                return web.Response(text="Ready\n")
            return web.Response(status=503, text="Not ready: waiting for the database or the first collection\n")

        async def reload(request: web.Request) -> web.Response:
            runtime = exporter.runtime
            if runtime is None or not runtime.config.server.reload_endpoint:
                return web.Response(status=403, text="Reload endpoint disabled; set server.reload_endpoint: true\n")
            result = await asyncio.get_running_loop().run_in_executor(None, exporter.reload)
            if result.ok:
                return web.Response(text="Reloaded\n")
            return web.Response(
                status=500,
                text=f"Reload failed; the previous configuration is still running.\n{result.reason}\n",
            )

        for path, handler in ((metrics_path, metrics), ("/", landing), ("/-/healthy", healthy), ("/-/ready", ready)):
            app.router.add_get(path, handler)  # GET and HEAD; other methods get 405 with an Allow header
        app.router.add_post("/-/reload", reload)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self.tracker.lookup(request.transport)
        if connection is not None:
            connection.begin()
        try:
            async with asyncio.timeout(self.limits.response_timeout):
                auth = self.exporter.web.auth
                if auth is not None and not await self._authenticated(request, auth):
                    return web.Response(status=401, text="Unauthorized\n", headers=UNAUTHORIZED_HEADERS)
                return await handler(request)
        except TimeoutError:
            # The client stopped reading (or the handler hung): drop the connection, not the server.
            # aiohttp then fails to write this placeholder on the aborted transport, which it treats
            # as an ordinary client disconnect (no error log per slow client).
            self.tracker.count("slow_response")
            if connection is not None:
                connection.abort()
            return web.Response(status=503)
        finally:
            if connection is not None:
                connection.end()

    async def _authenticated(self, request: web.Request, auth: BasicAuth) -> bool:
        credentials = parse_authorization(request.headers.get("Authorization"))
        if credentials is None:
            return False
        user, password = credentials
        verdict = auth.cached(user, password)
        if verdict is not None:
            return verdict
        if self._auth_pending >= self.limits.max_auth_pending:
            raise web.HTTPTooManyRequests(text="Too many authentication attempts at once, retry.\n")
        self._auth_pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._bcrypt, auth.verify, user, password)
        finally:
            self._auth_pending -= 1

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in self.exporter.web.headers.items():
            response.headers[name] = value

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, then serve with the web settings of the running configuration."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(
            self.make_app(),
            handle_signals=False,
            access_log=None,
            keepalive_timeout=self.limits.idle_timeout,
            max_line_size=8190,
            max_field_size=8190,
            max_headers=64,
            shutdown_timeout=5.0,
        )
        await self._runner.setup()
        try:
            self._socket = _bind(self.server.host, self.server.port)
            self._listener = await self._listen(self.exporter.web)
        except BaseException:
            await self._runner.cleanup()
            if self._socket is not None:
                self._socket.close()
            raise
        self._sweeper = asyncio.create_task(self._sweep())
        self.exporter.on_install(self._installed)

    async def _listen(self, settings: WebSettings) -> asyncio.Server:
        assert self._runner is not None and self._socket is not None and self._loop is not None
        protocol_factory = self._runner.server
        assert protocol_factory is not None
        tracker = self.tracker

        def make_connection() -> asyncio.Protocol:
            return _Connection(tracker, protocol_factory())

        self._ssl = settings.ssl_context
        return await self._loop.create_server(
            make_connection,
            sock=self._socket.dup(),
            ssl=settings.ssl_context,
            ssl_handshake_timeout=self.limits.handshake_timeout if settings.ssl_context else None,
            ssl_shutdown_timeout=5.0 if settings.ssl_context else None,
            backlog=128,
        )

    async def apply(self, settings: WebSettings) -> None:
        """Serve new connections with `settings` (TLS changes); auth and headers apply per request anyway."""
        if self._listener is None or settings.ssl_context is self._ssl:
            return
        listener = await self._listen(settings)
        old, self._listener = self._listener, listener
        old.close()
        log.info("listener restarted: %s", settings.describe())

    def _installed(self, runtime: Runtime) -> None:
        # Called on the reloading thread; the listener belongs to the event loop.
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.apply(runtime.web), self._loop)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.tracker.sweep()

    async def stop(self) -> None:
        """Stop accepting, let responses in progress finish (up to 5 s), close everything."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._socket is not None:
            self._socket.close()
        self._bcrypt.shutdown(wait=False, cancel_futures=True)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket for HOST:PORT ("" = every interface, IPv6 too where the system has it)."""
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=128)
        return socket.create_server(("0.0.0.0", port), backlog=128)
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return socket.create_server(address[:2], family=family, backlog=128)
