"""Stopping the exporter (SIGTERM) cancels the statements in progress on the server, not only in the client."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import BACKEND_PARAMS
from tests.support.builders import Rows
from tests.support.faultkit import wait_until
from tests.support.hostile_provider import SLEEPER_MARK
from tests.support.processes import ExporterProcess

SERVER_BACKENDS = [param for param in BACKEND_PARAMS if param.id != "sqlite"]


def _sleeping(admin: Engine) -> list[tuple[Any, ...]]:
    """Server sessions (other than the admin's) running the sleeper's statement."""
    if admin.dialect.name == "postgresql":
        query = (
            "SELECT pid, state FROM pg_stat_activity WHERE query LIKE :pattern AND pid <> pg_backend_pid() "
            "AND state = 'active'"
        )
    else:
        query = (
            "SELECT id, command FROM information_schema.PROCESSLIST WHERE info LIKE :pattern AND id <> CONNECTION_ID()"
        )
    with admin.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), {"pattern": f"%{SLEEPER_MARK} */"})]


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_sigterm_cancels_the_running_query_on_the_server(
    writer: Engine, database_url: str, backend: str, tmp_path: Path
) -> None:
    """SIGTERM while a provider's statement runs: the process exits 0 and the server stops the statement."""
    rows = Rows(writer)
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    config = {
        "database": {"url": database_url, "statement_timeout": "2m"},
        "providers": {"sleeper": {"factory": "tests.support.hostile_provider:SleepingProvider"}},
        "platforms": {"p1": {"disable": ["tenancy", "customers", "cms", "catalog", "inventory", "orders"]}},
    }
    exporter = ExporterProcess(tmp_path, config=config)
    try:
        exporter.wait_healthy()
        wait_until(lambda: _sleeping(writer), timeout=30, message="the sleeper's statement running on the server")
        started = time.monotonic()
        exporter.process.send_signal(signal.SIGTERM)
        assert exporter.process.wait(15) == 0, exporter.log()
        stopped = time.monotonic() - started
        wait_until(lambda: not _sleeping(writer), timeout=3, message=lambda: f"still running: {_sleeping(writer)}")
    finally:
        exporter.stop()
    assert stopped < 8, exporter.log()
