"""HTTP endpoints on aiohttp: /metrics, /, /-/healthy, /-/ready, POST /-/reload.

TLS, basic auth and response headers come from the web config of the running configuration.
Every connection passes through the guard of `exporter.connections` (connection limit, slow
requests, TLS handshakes); basic-auth checks through the fair queue of `exporter.authgate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_request import BaseRequest

from exporter import __version__
from exporter.app import Exporter
from exporter.authgate import AuthGate, Throttled, client_key
from exporter.config import ServerConfig
from exporter.connections import CloseReason, ConnectionTracker, Limits, _Connection
from exporter.exposition import wants_gzip, wants_openmetrics
from exporter.webconfig import BasicAuth, parse_authorization

__all__ = ["HttpServer", "Limits"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SIMPLE_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
"""Content types a web page may POST to another site without asking it first (no CORS preflight)."""


class _RequestHandler(web.RequestHandler):
    """aiohttp's per-connection protocol, with answers to requests it cannot parse that repeat nothing.

    aiohttp answers such a request with its parser's message (which quotes the offending
    header, credentials included) and logs a traceback for each one at ERROR. Here the answer
    is the bare status with the configured security headers, and the log gets at most one
    line a minute, through the connection counter.
    """

    def __init__(
        self,
        manager: web.Server,
        *,
        tracker: ConnectionTracker,
        headers: Callable[[], dict[str, str]],
        **options: Any,
    ) -> None:
        super().__init__(manager, **options)
        self._tracker = tracker
        self._headers = headers

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response already started cannot be replaced
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status >= 500:
            self._tracker.count(CloseReason.HANDLER_ERROR, exc)
        else:
            self._tracker.count(CloseReason.MALFORMED_REQUEST)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        response = web.Response(status=status, text=f"{status} {phrase}\n", headers=self._headers())
        response.force_close()
        return response


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

    The socket is bound once and accepts plain TCP; each connection takes the TLS settings
    current when it is accepted, so a reload changes TLS for new connections at once while
    connections already open finish on the settings they started with.
    """

    def __init__(self, exporter: Exporter, server: ServerConfig, limits: Limits | None = None) -> None:
        self.exporter = exporter
        self.server = server
        self.limits = limits or Limits(max_connections=server.max_connections)
        closed = exporter.metrics.http_connections_closed
        self.tracker = ConnectionTracker(self.limits, on_close=lambda reason: closed.labels(reason.value).inc())
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._options: dict[str, Any] = {
            "access_log": None,
            "keepalive_timeout": self.limits.idle_timeout,
            "max_line_size": 8190,
            "max_field_size": 8190,
            "max_headers": 64,
        }
        # One bcrypt check at a time, as the toolkit does: it is CPU-bound by design.
        self._bcrypt = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
        self._auth = AuthGate(
            self._bcrypt, per_client=self.limits.max_auth_pending_per_client, total=self.limits.max_auth_pending
        )

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
            response = web.StreamResponse(headers=body.headers)
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
            refused = _cross_site(request)
            if refused:
                return web.Response(status=403, text=refused)
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
            self.tracker.count(CloseReason.SLOW_RESPONSE)
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
        try:
            return await self._auth.check(auth, client_key(request.remote), user, password)
        except Throttled:
            self.exporter.metrics.http_auth_throttled.inc()
            raise web.HTTPTooManyRequests(text="Too many authentication attempts at once, retry.\n") from None

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in self.exporter.web.headers.items():
            response.headers[name] = value

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, then serve with the web settings of the running configuration."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, shutdown_timeout=5.0, **self._options)
        await self._runner.setup()
        try:
            self._socket = _bind(self.server.host, self.server.port)
            self._listener = await self._loop.create_server(self._accept, sock=self._socket.dup(), backlog=128)
        except BaseException:
            await self._runner.cleanup()
            if self._socket is not None:
                self._socket.close()
            raise
        self._sweeper = asyncio.create_task(self._sweep())

    def _accept(self) -> asyncio.Protocol:
        """The protocol of one new connection, with the TLS context and headers of the running configuration."""
        assert self._runner is not None and self._runner.server is not None and self._loop is not None
        manager, loop, settings = self._runner.server, self._loop, self.exporter.web

        def start() -> asyncio.Protocol:
            return _RequestHandler(
                manager, tracker=self.tracker, headers=self._security_headers, loop=loop, **self._options
            )

        return _Connection(self.tracker, start, settings.ssl_context, settings.headers)

    def _security_headers(self) -> dict[str, str]:
        return dict(self.exporter.web.headers)

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
        self._auth.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.tracker.abort_all()  # still in their TLS handshake: aiohttp never saw them
        if self._socket is not None:
            self._socket.close()
        self._bcrypt.shutdown(wait=False, cancel_futures=True)


def _cross_site(request: web.Request) -> str:
    """Why a POST looks sent by a web page of another site (empty when it does not).

    A browser lets any page POST a form (or `text/plain`) to any address without asking it, and
    sends `Origin` and `Sec-Fetch-Site` with it; curl, scripts and Prometheus' tooling send neither
    and no form body.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return f"Refused: a cross-site request (Sec-Fetch-Site: {fetch_site}).\n"
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin.strip()).netloc.lower() != request.host.lower():
        return "Refused: a cross-site request (its Origin is not this exporter).\n"
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in SIMPLE_BODIES:
        return (
            f"Refused: a {content_type} body is what cross-site forms send; POST without a body "
            "(curl -X POST http://host:port/-/reload).\n"
        )
    return ""


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket for HOST:PORT ("" = every interface, IPv6 too where the system has it)."""
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=128)
        return socket.create_server(("0.0.0.0", port), backlog=128)
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return socket.create_server(address[:2], family=family, backlog=128)
