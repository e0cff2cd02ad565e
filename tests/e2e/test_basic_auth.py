"""Basic auth under attack: a flood of wrong passwords never locks out the right one; long passwords work
as with the exporter toolkit."""

from __future__ import annotations

import base64
import http.client
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import create_engine

from exporter.http import Limits
from exporter.webconfig import BasicAuth
from tests.support.builders import Rows
from tests.support.exporting import make_exporter
from tests.support.processes import free_port
from tests.support.served import Served, serve

PASSWORD = "Right-Pa55word-for-prometheus"
COST = 10
"""The toolkit's recommended cost: tens of milliseconds per check, so guesses queue up."""
LIMITS = Limits(max_connections=128, request_timeout=10.0, idle_timeout=30.0, response_timeout=30.0)


def _get(port: int, password: str, source: str, timeout: float = 30.0) -> int:
    """GET /metrics as `prometheus` from the loopback address `source`; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    token = base64.b64encode(f"prometheus:{password}".encode()).decode()
    try:
        connection.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def guarded(sqlite_url: str, tmp_path: Path) -> Iterator[Served]:
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=COST)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    exporter = make_exporter(sqlite_url, server={"listen": f"127.0.0.1:{free_port()}", "web_config_file": str(web)})
    yield from serve(exporter, LIMITS)


def test_a_flood_of_wrong_passwords_never_locks_out_the_right_one(guarded: Served) -> None:
    """40 threads of distinct wrong passwords from another address; every scrape with the right one gets 200,
    also right after a reload."""
    stop = threading.Event()
    guesses = itertools.count()
    refused: list[int] = []

    def attack() -> None:
        while not stop.is_set():
            try:
                refused.append(_get(guarded.port, f"guess-{next(guesses)}", "127.0.0.2", timeout=10))
            except OSError:
                continue

    attackers = [threading.Thread(target=attack, daemon=True) for _ in range(40)]
    for thread in attackers:
        thread.start()
    try:
        time.sleep(1.0)  # the queue of guesses is full before Prometheus arrives
        statuses = []
        for scrape in range(10):
            if scrape == 5:
                assert guarded.exporter.reload().ok
            statuses.append(_get(guarded.port, PASSWORD, "127.0.0.1"))
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(15)
    assert statuses == [200] * 10
    assert 401 in refused and 429 in refused  # the flood was real: guesses were checked, and throttled


def test_the_verdict_cache_survives_a_reload_with_the_same_users(guarded: Served) -> None:
    """A reload that keeps users and hashes keeps the remembered verdicts (no bcrypt for Prometheus again)."""
    assert _get(guarded.port, PASSWORD, "127.0.0.1") == 200
    before = guarded.exporter.web.auth
    assert guarded.exporter.reload().ok
    after = guarded.exporter.web.auth
    assert after is not None and after is before
    assert after.cached("prometheus", PASSWORD.encode()) is True


def test_a_password_longer_than_72_bytes_logs_in_as_with_the_toolkit() -> None:
    """bcrypt reads 72 bytes; a hash made by htpasswd (or Go) from a longer password accepts that password."""
    password = ("long-passphrase-" * 8).encode()
    assert len(password) > 72
    hashed = bcrypt.hashpw(password[:72], bcrypt.gensalt(rounds=4))  # what htpasswd -B stores
    auth = BasicAuth({"prometheus": hashed})
    assert auth.verify("prometheus", password)
    assert not auth.verify("prometheus", password[:71])
    assert not auth.verify("prometheus", b"x" + password)
