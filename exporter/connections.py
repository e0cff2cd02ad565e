"""The guard every HTTP connection passes through: the connection limit, eviction, slow requests, TLS.

aiohttp has no timeout for reading a request head, and asyncio's TLS server only tells the
application about a connection once its handshake is done (each one waiting meanwhile holds
a 256 KiB buffer). So the server accepts plain TCP connections into a `_Connection`, which
counts against `max_connections` from the first byte, and performs the TLS handshake itself
(`loop.start_tls`) before handing the connection to aiohttp.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import ssl
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger("exporter.http")

TRIM_EVERY = 10.0
"""Seconds between two returns of freed heap memory to the system, at most (see `ConnectionTracker.sweep`)."""


def _heap_trimmer() -> Callable[[int], object] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_TRIM_HEAP = _heap_trimmer()


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
    max_auth_pending: int = 64
    """bcrypt checks waiting at once, over all clients (see `AuthGate`)."""
    max_auth_pending_per_client: int = 4
    """bcrypt checks one client address may have waiting; beyond this, 429 for that client only."""


class CloseReason(StrEnum):
    """Why the exporter closed (or refused) an HTTP connection; the `reason` label of the counter."""

    EVICTED = "evicted"
    REFUSED = "refused"
    SLOW_REQUEST = "slow_request"
    SLOW_RESPONSE = "slow_response"
    MALFORMED_REQUEST = "malformed_request"
    TLS_HANDSHAKE = "tls_handshake"
    HANDLER_ERROR = "handler_error"


def refusal(headers: Mapping[str, str]) -> bytes:
    """The 503 written to a plain-HTTP connection when every slot is busy, with the configured headers."""
    body = b"Too many connections, retry.\r\n"
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One accepted TCP connection: admitted or refused, upgraded to TLS if configured, then aiohttp's.

    It stays the protocol of the connection throughout (of the TLS layer once upgraded) and
    forwards to aiohttp's protocol, so it knows when the connection is idle, busy or stuck
    mid-request.
    """

    def __init__(
        self,
        tracker: ConnectionTracker,
        start: Callable[[], asyncio.Protocol],
        tls: ssl.SSLContext | None,
        headers: Mapping[str, str],
    ) -> None:
        self.tracker = tracker
        self._start = start
        self._tls = tls
        self._headers = headers
        self.inner: asyncio.Protocol | None = None
        self.raw: asyncio.Transport | None = None
        self.transport: asyncio.Transport | None = None
        """What aiohttp writes to: the TCP transport, or the TLS one once the handshake is done."""
        self.active = 0
        self.since = tracker.clock()
        """When the connection last became idle (opened, or finished a response)."""
        self.partial_since: float | None = None
        """When bytes of a request not yet complete started to arrive."""
        self._early: list[bytes] = []
        self._early_eof = False
        self._lost = False
        self._handshake: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = self.transport = transport
        if not self.tracker.admit(self):
            if self._tls is None:
                transport.write(refusal(self._headers))
                transport.close()
            else:  # no HTTP answer is possible before a handshake
                transport.abort()
            return
        if self._tls is None:
            self._hand_over(transport)
        else:
            self._handshake = asyncio.get_running_loop().create_task(self._upgrade(transport, self._tls))

    async def _upgrade(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        if raw.is_closing():
            # Evicted before this task ran. start_tls on a closing transport would build the TLS
            # layer anyway, and it would live (with its buffer) until the handshake timeout.
            self.tracker.release(self)
            self._handshake = None
            return
        try:
            secured = await asyncio.get_running_loop().start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self.tracker.limits.handshake_timeout,
                ssl_shutdown_timeout=5.0,
            )
        except Exception as err:  # noqa: BLE001 - timeout, reset, bad certificate, plain HTTP: all end the same way
            # The error's traceback holds start_tls's frame, which holds the future that holds the
            # error: a cycle only the garbage collector would break, keeping the TLS layer and its
            # 256 KiB buffer alive meanwhile. Clearing the frames frees them now.
            traceback.clear_frames(err.__traceback__)
            if self.tracker.release(self):
                self.tracker.count(CloseReason.TLS_HANDSHAKE)
            raw.abort()
            return
        finally:
            self._handshake = None
        if self._lost or secured is None:
            self.tracker.release(self)
            return
        self.tracker.rekey(self, secured)
        self._hand_over(secured)

    def _hand_over(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.inner = self._start()
        self.inner.connection_made(transport)
        # Bytes and EOF the TLS layer delivered between the end of the handshake and this call.
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)
        if self._early_eof:
            self.eof_received()

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            self._early.append(data)
            return
        if self.active == 0 and self.partial_since is None:
            self.partial_since = self.tracker.clock()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.inner is None:
            self._early_eof = True
            return None
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.tracker.release(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def begin(self) -> None:
        """A complete request head arrived and its handler starts."""
        self.active += 1
        self.partial_since = None

    def end(self) -> None:
        self.active -= 1
        self.since = self.tracker.clock()

    def abort(self) -> None:
        """Close at once: the TCP transport, so a connection mid-handshake goes too."""
        if self.raw is not None:
            self.raw.abort()


class ConnectionTracker:
    """Counts connections, refuses or evicts beyond the limit, and sweeps out slow requests.

    At the limit a new connection evicts the connection that has been idle (or stuck before
    sending a complete request, or before finishing its TLS handshake) the longest, then the
    oldest response that has run for more than a second; only when every connection is busy
    with a fresh request is it refused. Prometheus connects and sends its request at once, so
    it is never the one evicted.
    """

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        on_close: Callable[[CloseReason], None] | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.on_close = on_close
        self.connections: dict[asyncio.BaseTransport, _Connection] = {}
        self.closed: dict[str, int] = {}
        self.ended = 0
        """Connections ended so far, for whatever reason."""
        self._reported: dict[str, tuple[float, int]] = {}
        self._trimmed = (clock(), 0)

    def admit(self, connection: _Connection) -> bool:
        assert connection.transport is not None
        if len(self.connections) >= self.limits.max_connections:
            victim = self._victim()
            if victim is None:
                self.count(CloseReason.REFUSED)
                return False
            self.count(CloseReason.EVICTED)
            self._drop(victim)
        self.connections[connection.transport] = connection
        return True

    def release(self, connection: _Connection) -> bool:
        """Forget `connection`; True when it was still counted."""
        for transport in {connection.transport, connection.raw}:
            if transport is not None and self.connections.get(transport) is connection:
                del self.connections[transport]
                self.ended += 1
                return True
        return False

    def rekey(self, connection: _Connection, transport: asyncio.Transport) -> None:
        """The connection now speaks through `transport` (its TLS layer)."""
        if self.release(connection):
            connection.transport = transport
            self.connections[transport] = connection

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
                self.count(CloseReason.SLOW_REQUEST)
                self._drop(connection)
        self._trim_after_a_burst(now)

    def _trim_after_a_burst(self, now: float) -> None:
        """After a burst of connections has ended, hand the freed heap back to the system.

        Each connection in its TLS handshake holds a 256 KiB buffer. Freed, glibc keeps such
        blocks in its heap for reuse (its threshold for returning big blocks at once rises after
        the first one), so RSS would stay at the burst's peak; `malloc_trim` returns them.
        """
        last, ended = self._trimmed
        if (
            _TRIM_HEAP is not None
            and self.ended - ended >= self.limits.max_connections
            and len(self.connections) <= self.limits.max_connections // 2
            and now - last >= TRIM_EVERY
        ):
            _TRIM_HEAP(0)
            self._trimmed = (now, self.ended)

    def abort_all(self) -> None:
        """Close every connection still tracked (when stopping)."""
        for connection in list(self.connections.values()):
            self._drop(connection)

    def count(self, reason: CloseReason, error: BaseException | None = None) -> None:
        """Count one closed connection; log at most one line per reason and minute (an attack must not flood it)."""
        self.closed[reason] = self.closed.get(reason, 0) + 1
        if self.on_close is not None:
            self.on_close(reason)
        now = self.clock()
        last, count = self._reported.get(reason, (-1e9, 0))
        if now - last >= 60:
            log.warning(
                "HTTP connections closed (%s): %d since the last report; max_connections=%d",
                reason.value,
                self.closed[reason] - count,
                self.limits.max_connections,
                exc_info=error,
            )
            self._reported[reason] = (now, self.closed[reason])
