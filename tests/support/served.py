"""An exporter served in-process by the real HTTP server, on its own event-loop thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from exporter.app import Exporter
from exporter.http import HttpServer, Limits
from tests.support.webclient import request


@dataclass
class Served:
    """An exporter served in-process on its own event loop thread."""

    exporter: Exporter
    http: HttpServer
    port: int

    def scrape_seconds(self, **kwargs: Any) -> float:
        """Time one full scrape; fails unless it returns 200 with the self-metrics."""
        started = time.monotonic()
        reply = request(self.port, "/metrics", timeout=5, **kwargs)
        assert reply.status == 200 and b"commerce_exporter_build_info" in reply.body
        return time.monotonic() - started


def serve(exporter: Exporter, limits: Limits) -> Iterator[Served]:
    """Start `exporter` and its HTTP server with `limits`; yield once it is ready; stop both."""
    exporter.start()
    assert exporter.runtime is not None
    server = exporter.runtime.config.server
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="http-test-loop", daemon=True)
    thread.start()
    http = HttpServer(exporter, server, limits)
    asyncio.run_coroutine_threadsafe(http.start(), loop).result(10)
    try:
        deadline = time.monotonic() + 20
        while not exporter.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Served(exporter, http, server.port)
    finally:
        asyncio.run_coroutine_threadsafe(http.stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        exporter.stop(wait=True)
