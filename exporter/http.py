"""HTTP endpoints (DESIGN §8) on aiohttp: /metrics, /, /-/healthy, /-/ready, POST /-/reload."""

from __future__ import annotations

import asyncio
import html
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from exporter import __version__
from exporter.app import Exporter
from exporter.config import ServerConfig
from exporter.exposition import wants_gzip, wants_openmetrics

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KEEPALIVE_SECONDS = 75.0
"""Idle keep-alive connections are closed after this; Prometheus reconnects cheaply."""


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


def make_app(exporter: Exporter, server: ServerConfig) -> web.Application:
    """The aiohttp application; request bodies are refused (nothing here reads one)."""
    app = web.Application(client_max_size=1024)
    metrics_path = server.metrics_path

    async def metrics(request: web.Request) -> web.StreamResponse:
        body = exporter.scrape(
            openmetrics=wants_openmetrics(request.headers.get("Accept")),
            gzip=wants_gzip(request.headers.get("Accept-Encoding")),
        )
        response = web.StreamResponse(
            headers={"Content-Type": body.content_type, "Vary": "Accept, Accept-Encoding", "Cache-Control": "no-store"}
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
        if not server.reload_endpoint:
            return web.Response(status=403, text="Reload endpoint disabled; set server.reload_endpoint: true\n")
        ok = await asyncio.get_running_loop().run_in_executor(None, exporter.reload)
        if ok:
            return web.Response(text="Reloaded\n")
        return web.Response(status=500, text="Reload failed; the previous configuration is still running (see logs)\n")

    for path, handler in ((metrics_path, metrics), ("/", landing), ("/-/healthy", healthy), ("/-/ready", ready)):
        app.router.add_get(path, handler)  # GET and HEAD; other methods get 405 with an Allow header
    app.router.add_post("/-/reload", reload)
    return app


async def start_server(
    exporter: Exporter, server: ServerConfig, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    """Bind and start serving; the caller keeps the runner and calls `cleanup()` to stop."""
    runner = web.AppRunner(
        make_app(exporter, server),
        handle_signals=False,
        access_log=None,
        keepalive_timeout=KEEPALIVE_SECONDS,
        max_line_size=8190,
        max_field_size=8190,
        max_headers=64,
    )
    await runner.setup()
    site = web.TCPSite(runner, server.host or None, server.port, ssl_context=ssl_context, shutdown_timeout=5.0)
    await site.start()
    return runner
