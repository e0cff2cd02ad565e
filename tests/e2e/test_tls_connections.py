"""Connections waiting for their TLS handshake count against `server.max_connections` like any other."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import gc
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from exporter.http import Limits
from tests.support.builders import Rows
from tests.support.certs import CertificateAuthority
from tests.support.exporting import Exposition, make_exporter
from tests.support.processes import free_port
from tests.support.served import Served, serve
from tests.support.webclient import request, tls_context

LIMITS = Limits(max_connections=8, request_timeout=5.0, idle_timeout=60.0, response_timeout=5.0, handshake_timeout=60.0)
"""A handshake timeout far beyond the test: every connection closed in it was closed by the limit."""


@pytest.fixture
def tls(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Served, CertificateAuthority]]:
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    authority = CertificateAuthority(tmp_path / "tls")
    server = authority.issue("server", "localhost", server=True)
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n")
    exporter = make_exporter(sqlite_url, server={"listen": f"127.0.0.1:{free_port()}", "web_config_file": str(web)})
    for served in serve(exporter, LIMITS):
        yield served, authority


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_idle_connections_before_the_handshake_are_held_to_the_limit(
    tls: tuple[Served, CertificateAuthority],
) -> None:
    """200 TCP connections that never say hello: all but max_connections are evicted at once, counted."""
    served, authority = tls
    with ExitStack() as stack:
        idle = [stack.enter_context(socket.create_connection(("127.0.0.1", served.port))) for _ in range(200)]
        time.sleep(1.0)
        still_open = sum(not _closed(sock) for sock in idle)
        assert still_open <= LIMITS.max_connections, f"{still_open} connections held before their handshake"
        reply = request(served.port, "/metrics", context=tls_context(authority.files.cert), timeout=5)
    assert reply.status == 200
    exposition = Exposition.parse(reply.body.decode())
    evicted = exposition.value("commerce_exporter_http_connections_closed_total", reason="evicted")
    assert evicted is not None and evicted >= 200 - LIMITS.max_connections


def test_a_handshake_that_never_finishes_still_times_out(sqlite_url: str, tmp_path: Path) -> None:
    """Under the limit, a connection that never completes its handshake is closed after the handshake timeout."""
    authority = CertificateAuthority(tmp_path / "tls")
    server = authority.issue("server", "localhost", server=True)
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n")
    exporter = make_exporter(sqlite_url, server={"listen": f"127.0.0.1:{free_port()}", "web_config_file": str(web)})
    limits = Limits(max_connections=8, handshake_timeout=1.0)
    for served in serve(exporter, limits):
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and nothing more
            sock.settimeout(5)
            started = time.monotonic()
            with suppress(ConnectionResetError):
                assert sock.recv(1) == b""
            assert time.monotonic() - started < 3
        reply = request(served.port, "/metrics", context=tls_context(authority.files.cert), timeout=5)
        exposition = Exposition.parse(reply.body.decode())
        assert exposition.value("commerce_exporter_http_connections_closed_total", reason="tls_handshake") == 1


def test_an_evicted_connection_frees_its_tls_layer_at_once(tls: tuple[Served, CertificateAuthority]) -> None:
    """No TLS layer (and its 256 KiB buffer) outlives its connection: none is left once the clients are gone."""
    served, _ = tls
    with ExitStack() as stack:
        for _ in range(300):
            stack.enter_context(socket.create_connection(("127.0.0.1", served.port)))
        time.sleep(1.0)
    time.sleep(1.0)  # the server has seen every close
    layers = [o for o in gc.get_objects() if isinstance(o, asyncio.sslproto.SSLProtocol)]
    assert layers == [], f"{len(layers)} TLS layers still alive"
