"""Requests the HTTP parser refuses: the answer and the log repeat nothing the client sent, the log is not
flooded, and the configured security headers are on the answer too."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import create_engine

from exporter.http import Limits
from tests.support.builders import Rows
from tests.support.certs import CertificateAuthority
from tests.support.exporting import Exposition, make_exporter
from tests.support.processes import free_port
from tests.support.served import Served, serve
from tests.support.webclient import request, tls_context

LIMITS = Limits(max_connections=16, request_timeout=5.0, idle_timeout=30.0, response_timeout=5.0)
PASSWORD = "Pa55-in-a-broken-header-4e1f"
CREDENTIALS = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
HEADERS = {"X-Content-Type-Options": "nosniff", "Strict-Transport-Security": "max-age=31536000"}


@pytest.fixture
def platform_db(sqlite_url: str) -> str:
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    return sqlite_url


def _web_config(tmp_path: Path, tls: bool) -> tuple[Path, CertificateAuthority]:
    authority = CertificateAuthority(tmp_path / "tls")
    server = authority.issue("server", "localhost", server=True)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    lines = [f"basic_auth_users:\n  prometheus: '{hashed}'", "http_server_config:\n  headers:"]
    lines += [f"    {name}: '{value}'" for name, value in HEADERS.items()]
    if tls:
        lines.append(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}")
    path = tmp_path / "web.yml"
    path.write_text("\n".join(lines) + "\n")
    return path, authority


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
def secured(
    request: pytest.FixtureRequest, platform_db: str, tmp_path: Path
) -> Iterator[tuple[Served, ssl.SSLContext | None]]:
    web, authority = _web_config(tmp_path, tls=request.param)
    exporter = make_exporter(platform_db, server={"listen": f"127.0.0.1:{free_port()}", "web_config_file": str(web)})
    context = tls_context(authority.files.cert) if request.param else None
    for served in serve(exporter, LIMITS):
        yield served, context


def _raw_exchange(port: int, payload: bytes, context: ssl.SSLContext | None) -> bytes:
    """Send `payload` on a fresh connection (TLS when `context`) and read the answer until the server closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_bad_authorization_header_is_not_repeated_in_the_answer_or_the_log(
    secured: tuple[Served, ssl.SSLContext | None], caplog: pytest.LogCaptureFixture
) -> None:
    """One control byte after the credentials: 400, and neither the answer nor any log line holds them."""
    served, context = secured
    caplog.set_level(logging.DEBUG)
    payload = f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {CREDENTIALS}\x01\r\n\r\n".encode()
    answer = _raw_exchange(served.port, payload, context)
    assert answer.split(b" ", 2)[1] == b"400", answer[:80]
    logged = "\n".join(f"{r.getMessage()} {r.exc_info and r.exc_info[1]!r}" for r in caplog.records)
    for secret in (CREDENTIALS, PASSWORD, CREDENTIALS[:20]):
        assert secret.encode() not in answer
        assert secret not in logged


def test_parser_errors_carry_the_configured_security_headers(secured: tuple[Served, ssl.SSLContext | None]) -> None:
    """A request line the parser refuses gets a 400 with the web config's headers, as every other answer."""
    served, context = secured
    answer = _raw_exchange(served.port, b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", context)
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.split(" ", 2)[1] == "400", head
    for name, value in HEADERS.items():
        assert f"{name}: {value}" in head


def test_a_flood_of_oversized_headers_writes_one_log_line(platform_db: str, caplog: pytest.LogCaptureFixture) -> None:
    """1,000 requests with a 9 KB header: each refused, counted, and at most one warning line in the log."""
    exporter = make_exporter(platform_db, server={"listen": f"127.0.0.1:{free_port()}"})
    caplog.set_level(logging.INFO)
    for served in serve(exporter, LIMITS):
        caplog.clear()
        payload = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9 * 1024 + b"\r\n\r\n"
        for _ in range(1000):
            assert _raw_exchange(served.port, payload, None).split(b" ", 2)[1].startswith(b"4")
        noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(noisy) <= 1, [r.getMessage()[:200] for r in noisy[:3]]
        assert sum(len(r.getMessage()) for r in caplog.records) < 2000
        exposition = Exposition.parse(request(served.port, "/metrics").body.decode())
        assert exposition.value("commerce_exporter_http_connections_closed_total", reason="malformed_request") == 1000
