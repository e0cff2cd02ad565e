"""Whatever a provider does to its session, the next run gets a read-only, time-limited one again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from exporter.db import Database
from exporter.errors import DatabaseError, FailureReason
from tests.support.builders import Rows
from tests.support.exporting import Exposition, make_exporter
from tests.support.hostile_provider import PROBE_TABLE

RUNS = 6
"""Runs of the hostile provider; with a pool of two connections, most of them reuse a sabotaged one."""
EXPECTED_TIMEOUT = {"postgresql": "7s", "mariadb": "7000", "sqlite": ""}


@pytest.fixture
def probe_table(writer: Engine) -> Iterator[Engine]:
    """One platform with one vendor, and the table a successful write would leave a row in."""
    rows = Rows(writer)
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    with writer.begin() as connection:
        connection.execute(text(f"CREATE TABLE {PROBE_TABLE} (id INTEGER)"))
    yield writer
    with writer.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {PROBE_TABLE}"))


def _seen(exposition: Exposition, key: str) -> str | float | None:
    family = f"commerce_platform_hostile_{key}"
    number = exposition.value(family, category="hostile", key=f"hostile.{key}", platform="p1")
    if number is not None:
        return number
    for labels in exposition.series(f"{family}_info"):
        return dict(labels)["value"]
    return None


def test_a_provider_cannot_leave_its_session_writable_for_the_next_run(
    probe_table: Engine, database_url: str, backend: str
) -> None:
    """Runs after one that committed and switched read-only, timeout and isolation off still see them on."""
    exporter = make_exporter(
        database_url,
        candidates=[],
        database={"url": database_url, "pool_size": 2, "statement_timeout": "7s"},
        collection={"concurrency": 1},
        providers={"hostile": {"factory": "tests.support.hostile_provider:HostileProvider"}},
    )
    seen = []
    try:
        for _ in range(RUNS):
            results = exporter.collect_once()
            assert [r.ok for r in results] == [True], results
            exposition = Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())
            seen.append({key: _seen(exposition, key) for key in ("read_only", "write_succeeded", "timeout")})
            if backend != "sqlite":
                seen[-1]["isolation"] = _seen(exposition, "isolation")
    finally:
        exporter.stop()
    expected = {"read_only": 1.0, "write_succeeded": 0.0, "timeout": EXPECTED_TIMEOUT[backend]}
    if backend != "sqlite":
        expected["isolation"] = "repeatable read"
    assert seen == [expected] * RUNS
    with probe_table.connect() as connection:
        assert connection.execute(text(f"SELECT COUNT(*) FROM {PROBE_TABLE}")).scalar_one() == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_removed_sqlite_interrupt_is_put_back_for_the_next_session(database_url: str, backend: str) -> None:
    """A provider that drops the progress handler (SQLite's statement timeout) only loses it for its own run."""
    database = Database(database_url, statement_timeout=0.5, pool_size=1)
    slow = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) SELECT count(*) FROM r"
    try:
        with database.session() as session:
            session.connection().connection.driver_connection.set_progress_handler(None, 0)
        started = time.monotonic()
        with pytest.raises(DatabaseError) as caught, database.session() as session:
            session.execute(text(slow))
    finally:
        database.dispose()
    assert caught.value.reason is FailureReason.TIMEOUT
    assert time.monotonic() - started < 5
