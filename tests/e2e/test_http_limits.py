"""HTTP abuse never blocks a real scrape: odd methods and paths, huge and endless headers, slowloris,
idle connections beyond the limit, clients that stop reading, TLS handshakes that never start."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from exporter.app import Exporter
from exporter.config import Config
from exporter.contracts import MetricValue
from exporter.discovery import Candidate
from exporter.http import Limits
from exporter.selfmetrics import SelfMetrics
from tests.support.builders import Rows
from tests.support.certs import CertificateAuthority
from tests.support.exporting import Exposition, FixedClock, make_config, make_exporter
from tests.support.processes import free_port
from tests.support.served import Served, serve
from tests.support.webclient import request, tls_context

LIMITS = Limits(max_connections=8, request_timeout=1.0, idle_timeout=30.0, response_timeout=1.0, handshake_timeout=1.0)


class _Bulky:
    """A provider with a large exposition (≈6 MB, beyond the kernel's socket buffers on loopback)."""

    metrics_category = "bulky"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[MetricValue]:
        return []

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[MetricValue]:
        return [MetricValue(f"bulky.value_{i}", i, f"Value {i}", "bulky", description="x" * 40) for i in range(24_000)]


@pytest.fixture
def platform_db(sqlite_url: str) -> str:
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    return sqlite_url


@pytest.fixture
def served(platform_db: str) -> Iterator[Served]:
    exporter = make_exporter(platform_db, server={"listen": f"127.0.0.1:{free_port()}"})
    yield from serve(exporter, LIMITS)


@pytest.fixture
def served_bulky(platform_db: str) -> Iterator[Served]:
    exporter = make_exporter(
        platform_db,
        candidates=[Candidate("bulky", "test", lambda: _Bulky)],
        server={"listen": f"127.0.0.1:{free_port()}"},
    )
    yield from serve(exporter, LIMITS)


def _raw(port: int, payload: bytes = b"", *, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if payload:
        sock.sendall(payload)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reading and discarding anything it sent), or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


# --- methods and paths ------------------------------------------------------------------------


def test_unknown_paths_get_404(served: Served) -> None:
    """Paths the exporter does not serve answer 404, and the server keeps serving."""
    for path in ("/nope", "/metrics/", "/-/", "/../etc/passwd", "/%00", "/metrics?x=1#y"):
        status = request(served.port, path).status
        assert status == (200 if path.startswith("/metrics?") else 404), path
    served.scrape_seconds()


def test_writing_methods_get_405_with_allow(served: Served) -> None:
    """PUT, DELETE, PATCH, OPTIONS and TRACE on /metrics get 405 naming GET; made-up methods get 400."""
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        reply = request(served.port, "/metrics", method=method)
        assert reply.status == 405, method
        assert "GET" in reply.headers["Allow"]
    assert request(served.port, "/metrics", method="BREW").status == 400
    reload = request(served.port, "/-/reload", method="GET")
    assert reload.status == 405 and reload.headers["Allow"] == "POST"


def test_head_gets_the_headers_without_the_body(served: Served) -> None:
    """HEAD /metrics answers 200 with an empty body."""
    reply = request(served.port, "/metrics", method="HEAD")
    assert reply.status == 200 and reply.body == b""


def test_reload_endpoint_is_off_unless_configured(served: Served) -> None:
    """POST /-/reload is 403 while server.reload_endpoint is false."""
    assert request(served.port, "/-/reload", method="POST").status == 403


# --- oversized requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
        b"\x16\x03\x01\x02\x00" + b"\x00" * 600 + b"\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
    ],
    ids=["long request line", "huge header", "too many headers", "tls to plain port", "bad version"],
)
def test_oversized_or_malformed_requests_are_refused(served: Served, payload: bytes) -> None:
    """Requests beyond the line, header and count limits get a 4xx and the connection closes."""
    sock = _raw(served.port, payload)
    with sock:
        sock.settimeout(5)
        head = sock.recv(4096)
        assert head.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), head[:60]
    served.scrape_seconds()


# --- slow and idle clients --------------------------------------------------------------------


def test_endless_headers_are_cut_off(served: Served) -> None:
    """A client that keeps sending header lines is disconnected after the request timeout."""
    sock = _raw(served.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    with sock:
        started = time.monotonic()
        closed = False
        for i in range(40):  # 8 s of headers at most
            try:
                sock.sendall(b"X-Drip-%d: y\r\n" % i)
            except OSError:
                closed = True
                break
            if _closed_within(sock, 0.2) is not None:
                closed = True
                break
        assert closed, "the server kept reading headers for 8 s"
        assert time.monotonic() - started < LIMITS.request_timeout + 2
    assert served.http.tracker.closed.get("slow_request", 0) >= 1


def test_slowloris_beyond_the_limit_never_blocks_a_scrape(served: Served) -> None:
    """Three times max_connections half-sent requests: every real scrape still answers within a second."""
    with ExitStack() as stack:
        for i in range(3 * LIMITS.max_connections):
            sock = stack.enter_context(_raw(served.port, b"GET /metrics HTTP/1.1\r\nX-Slow-%d: " % i))
            sock.setblocking(False)
        durations = [served.scrape_seconds() for _ in range(10)]
    assert max(durations) < 1.0, durations
    assert served.http.tracker.closed.get("evicted", 0) >= 2 * LIMITS.max_connections


def test_idle_connections_beyond_the_limit_never_block_a_scrape(served: Served) -> None:
    """Connections that never send a byte are evicted oldest first when a scraper needs the slot."""
    with ExitStack() as stack:
        for _ in range(4 * LIMITS.max_connections):
            stack.enter_context(_raw(served.port))
        time.sleep(0.2)
        durations = [served.scrape_seconds() for _ in range(10)]
        assert len(served.http.tracker.connections) <= LIMITS.max_connections
    assert max(durations) < 1.0, durations


def test_a_client_that_stops_reading_loses_its_connection(served_bulky: Served) -> None:
    """A scrape whose client never reads the (large) response is aborted after the response timeout."""
    served = served_bulky
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with sock:
        sock.connect(("127.0.0.1", served.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(LIMITS.response_timeout + 1.0)
        assert served.http.tracker.closed.get("slow_response", 0) == 1
        assert served.scrape_seconds() < 1.0
        assert _closed_within(sock, 5) is not None


# --- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def served_tls(platform_db: str, tmp_path: Path) -> Iterator[tuple[Served, Callable[[], Any]]]:
    authority = CertificateAuthority(tmp_path / "tls")
    server = authority.issue("server", "localhost", server=True)
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n")
    exporter = make_exporter(platform_db, server={"listen": f"127.0.0.1:{free_port()}", "web_config_file": str(web)})
    for served in serve(exporter, LIMITS):
        yield served, lambda: tls_context(authority.files.cert)


def test_stalled_tls_handshakes_never_block_a_scrape(served_tls: tuple[Served, Callable[[], Any]]) -> None:
    """Connections that never start their TLS handshake time out, and a TLS scrape meanwhile succeeds."""
    served, context = served_tls
    with ExitStack() as stack:
        stalled = [stack.enter_context(_raw(served.port)) for _ in range(3 * LIMITS.max_connections)]
        assert served.scrape_seconds(context=context()) < 1.0
        assert _closed_within(stalled[0], LIMITS.handshake_timeout + 3) is not None


def test_every_connection_busy_refuses_the_newcomer_with_503(platform_db: str) -> None:
    """With every slot held by a request in progress, a new connection gets 503 and is counted as refused."""
    release = threading.Event()
    config = make_config(platform_db, server={"listen": f"127.0.0.1:{free_port()}", "reload_endpoint": True})
    loads: list[int] = []

    def load() -> Config:
        if loads:  # every reload after the start waits until the test lets it go
            release.wait(10)
        loads.append(1)
        return config

    exporter = Exporter(load, clock=FixedClock(), metrics=SelfMetrics(process=False))
    limits = Limits(max_connections=2, request_timeout=5.0, idle_timeout=30.0, response_timeout=15.0)
    for served in serve(exporter, limits):
        with ThreadPoolExecutor(max_workers=2) as pool:
            busy = [pool.submit(request, served.port, "/-/reload", method="POST", timeout=15) for _ in range(2)]
            deadline = time.monotonic() + 5
            while sum(c.active for c in served.http.tracker.connections.values()) < 2:
                assert time.monotonic() < deadline, "the two reloads never started"
                time.sleep(0.01)
            with _raw(served.port) as newcomer:
                newcomer.settimeout(5)
                answer = newcomer.recv(4096)
            release.set()
            assert [f.result().status for f in busy] == [200, 200]
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:60]
        assert b"Too many connections" in answer
        exposition = Exposition.parse(request(served.port, "/metrics").body.decode())
        assert exposition.value("commerce_exporter_http_connections_closed_total", reason="refused") == 1


def test_closed_connections_are_counted_by_reason(served: Served) -> None:
    """Evicted, slow and refused connections each show in commerce_exporter_http_connections_closed_total."""
    before = Exposition.parse(request(served.port, "/metrics").body.decode())
    reasons = {dict(labels)["reason"] for labels in before.series("commerce_exporter_http_connections_closed_total")}
    assert {"evicted", "refused", "slow_request", "slow_response", "malformed_request", "tls_handshake"} <= reasons
    with ExitStack() as stack:
        for _ in range(2 * LIMITS.max_connections):
            stack.enter_context(_raw(served.port))
        time.sleep(0.2)
        served.scrape_seconds()
    after = Exposition.parse(request(served.port, "/metrics").body.decode())
    evicted = after.value("commerce_exporter_http_connections_closed_total", reason="evicted") or 0
    assert evicted >= LIMITS.max_connections
