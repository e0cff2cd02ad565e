"""A slow statement is cancelled by the server within its timeout, and only its provider suffers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from exporter.contracts import MetricsContext, MetricValue
from exporter.db import Database
from exporter.discovery import Candidate, discover
from exporter.errors import DatabaseError, FailureReason
from tests.conftest import BACKEND_PARAMS
from tests.support.builders import NOW, Rows
from tests.support.exporting import FixedClock, collect

SERVER_BACKENDS = [param for param in BACKEND_PARAMS if param.id != "sqlite"]

TIMEOUT = 1.0
"""Statement timeout of these tests, in seconds."""
LATE = 6.0
"""Cancelled later than this counts as not cancelled by the timeout (the machine is shared and noisy)."""

SLOW = {
    "postgresql": "SELECT pg_sleep(60) /* {marker} */",
    "mariadb": "SELECT SLEEP(60) /* {marker} */",
    # About two minutes of work for SQLite's VM: only the progress-handler interrupt ends it early.
    "sqlite": (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
        "SELECT count(*) /* {marker} */ FROM r"
    ),
}
"""A statement per backend that runs for far longer than TIMEOUT unless the timeout stops it."""


def _slow(engine_or_session: Engine | Session, marker: str) -> str:
    dialect = (
        engine_or_session.get_bind().dialect.name
        if isinstance(engine_or_session, Session)
        else (engine_or_session.dialect.name)
    )
    return SLOW["mariadb" if dialect == "mysql" else dialect].format(marker=marker)


def _running_elsewhere(admin: Engine, marker: str) -> list[tuple[Any, ...]]:
    """Server sessions other than the admin's own whose current statement contains `marker`."""
    if admin.dialect.name == "postgresql":
        query = (
            "SELECT pid, state FROM pg_stat_activity WHERE query LIKE :pattern AND pid <> pg_backend_pid() "
            "AND state <> 'idle'"
        )
    else:
        query = (
            "SELECT id, command FROM information_schema.PROCESSLIST WHERE info LIKE :pattern AND id <> CONNECTION_ID()"
        )
    with admin.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), {"pattern": f"%{marker}%"})]


def _exporter_sessions(admin: Engine, database: str) -> list[tuple[Any, ...]]:
    """(state, query) of the exporter's server sessions on `database`."""
    if admin.dialect.name == "postgresql":
        query = (
            "SELECT state, query FROM pg_stat_activity WHERE datname = :db "
            "AND application_name = 'commerce-exporter' AND pid <> pg_backend_pid()"
        )
    else:
        query = "SELECT command, info FROM information_schema.PROCESSLIST WHERE db = :db AND id <> CONNECTION_ID()"
    with admin.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), {"db": database})]


def test_slow_statement_is_cancelled_within_the_timeout(database_url: str) -> None:
    """The statement ends with a timeout DatabaseError after about TIMEOUT seconds, not after a minute."""
    database = Database(database_url, statement_timeout=TIMEOUT, pool_size=1)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseError) as caught, database.session() as session:
            session.execute(text(_slow(session, uuid.uuid4().hex)))
    finally:
        elapsed = time.monotonic() - started
        database.dispose()
    assert caught.value.reason is FailureReason.TIMEOUT, caught.value
    assert TIMEOUT * 0.9 <= elapsed < LATE


@pytest.mark.parametrize("backend", SERVER_BACKENDS)  # SQLite has no server session to inspect
def test_server_session_is_idle_after_the_timeout(database_url: str, backend: str) -> None:
    """After the timeout the server runs nothing for the exporter: its connection is idle, not still working."""
    marker = uuid.uuid4().hex
    database = Database(database_url, statement_timeout=TIMEOUT, pool_size=1)
    admin = create_engine(database_url)
    try:
        with pytest.raises(DatabaseError), database.session() as session:
            session.execute(text(_slow(session, marker)))
        assert _running_elsewhere(admin, marker) == []
        sessions = _exporter_sessions(admin, str(database.url.database))
        assert len(sessions) == 1, sessions  # the pooled connection survived, and only it
        assert str(sessions[0][0]).lower() in ("idle", "sleep"), sessions
    finally:
        database.dispose()
        admin.dispose()


def test_connection_is_usable_after_a_timeout(database_url: str) -> None:
    """The pool's one connection answers the next statement at once after its statement timed out."""
    database = Database(database_url, statement_timeout=TIMEOUT, pool_size=1)
    try:
        with pytest.raises(DatabaseError), database.session() as session:
            session.execute(text(_slow(session, uuid.uuid4().hex)))
        started = time.monotonic()
        with database.session() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        assert time.monotonic() - started < TIMEOUT
    finally:
        database.dispose()


class SlowProvider:
    """A third-party provider (the basic per-vendor interface only) whose query never finishes in time."""

    metrics_category = "slow"

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        value = db.execute(text(_slow(db, uuid.uuid4().hex))).scalar()
        return [MetricValue(key="slow.value", value=value, label="Slow", category="slow")]

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        return self.get_vendor_metrics(db, platform_id, context)


def test_slow_provider_times_out_while_the_others_deliver(writer: Engine, database_url: str) -> None:
    """Next to a provider stopped by the statement timeout, every built-in provider exports its series."""
    rows = Rows(writer)
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.order(vendor, 1234)
    candidates = [*discover(), Candidate("slow", "test", lambda: SlowProvider)]
    started = time.monotonic()
    exposition = collect(
        database_url,
        clock=FixedClock(NOW),
        candidates=candidates,
        database={"url": database_url, "statement_timeout": f"{TIMEOUT}s"},
    )
    elapsed = time.monotonic() - started
    results = {r.provider: r for r in exposition.results}
    assert results.pop("slow").reason is FailureReason.TIMEOUT
    assert {name: r.ok for name, r in results.items()} == dict.fromkeys(results, True)
    assert len(results) == 7
    labels = {"category": "orders", "key": "orders.total", "platform": "main", "vendor": "V1"}
    assert exposition.value("commerce_vendor_orders", **labels) == 1
    assert exposition.value("commerce_exporter_provider_failures_total", provider="slow", reason="timeout") == 1
    assert exposition.value("commerce_exporter_provider_up", provider="slow") == 0
    assert exposition.value("commerce_exporter_provider_up", provider="orders") == 1
    assert elapsed < LATE + 5
