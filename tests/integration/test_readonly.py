"""Nothing the exporter does can write: read-only sessions per backend, and the GRANT scripts of docs/sql."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from exporter.db import Database
from exporter.errors import DatabaseError
from exporter.schema import reference_tables
from tests.conftest import BACKEND_PARAMS
from tests.support.builders import NOW, Rows
from tests.support.exporting import FixedClock, collect

SERVER_BACKENDS = [param for param in BACKEND_PARAMS if param.id != "sqlite"]
"""PostgreSQL and MariaDB: the backends with accounts and isolation levels."""

SQL_DIR = Path(__file__).resolve().parents[2] / "docs" / "sql"

WRITES = {
    "insert": (
        "INSERT INTO platforms (id, code, name, is_active, created_at) VALUES (99, 'x', 'x', 1 = 1, '2026-01-01')"
    ),
    "update": "UPDATE vendors SET name = 'changed'",
    "delete": "DELETE FROM vendors",
    "create table": "CREATE TABLE ce_intruder (id INTEGER)",
    "drop table": "DROP TABLE ce_scratch",
}
"""Statements that must fail inside an exporter session (ce_scratch is created by the test's writer)."""


@pytest.fixture
def seeded(writer: Engine) -> Iterator[Rows]:
    """One platform and vendor, plus a scratch table an intruder would try to drop."""
    rows = Rows(writer)
    main = rows.platform("main")
    rows.link(rows.vendor("V1"), main)
    with writer.begin() as connection:
        connection.execute(text("CREATE TABLE ce_scratch (id INTEGER)"))
    yield rows
    with writer.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS ce_scratch"))
        connection.execute(text("DROP TABLE IF EXISTS ce_intruder"))


def _driver_error(error: BaseException | None) -> BaseException | None:
    return getattr(error, "orig", None) or error


def _refused_as_read_only(error: BaseException | None) -> bool:
    """The backend's own "read-only" refusal, not any other failure (a typo would fail differently)."""
    original = _driver_error(error)
    if getattr(original, "sqlstate", None) == "25006":  # PostgreSQL read_only_sql_transaction
        return True
    if getattr(original, "args", (None,))[0] == 1792:  # MariaDB ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        return True
    return "readonly database" in str(original)  # SQLite query_only


def _refused_for_privileges(error: BaseException | None) -> bool:
    """A missing privilege: PostgreSQL insufficient_privilege, MariaDB ER_TABLEACCESS_DENIED_ERROR."""
    original = _driver_error(error)
    return getattr(original, "sqlstate", None) == "42501" or getattr(original, "args", (None,))[0] == 1142


def _snapshot(engine: Engine) -> dict[str, object]:
    """Row counts of the reference tables and the vendor names, to show nothing changed."""
    with engine.connect() as connection:
        counts: dict[str, object] = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in reference_tables().metadata.sorted_tables
        }
        counts["names"] = sorted(connection.execute(text("SELECT name FROM vendors")).scalars())
    return counts


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_write_through_the_exporter_session_fails(
    seeded: Rows, writer: Engine, database_url: str, statement: str
) -> None:
    """A write attempted through `Database.session()` raises DatabaseError and changes nothing."""
    before = _snapshot(writer)
    database = Database(database_url)
    try:
        with pytest.raises(DatabaseError) as caught, database.session() as session:
            session.execute(text(statement))
            session.commit()  # even an explicit commit must not make it stick
    finally:
        database.dispose()
    assert _refused_as_read_only(caught.value.__cause__), caught.value
    assert _snapshot(writer) == before
    with writer.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM ce_scratch")).scalar_one() == 0


def test_session_reports_itself_read_only(database_url: str, backend: str) -> None:
    """The server (or SQLite) confirms the exporter's session is read-only."""
    probe = {
        "postgresql": "SHOW transaction_read_only",
        "mariadb": "SELECT @@session.tx_read_only",  # MariaDB < 11.1 spelling
        "sqlite": "PRAGMA query_only",
    }[backend]
    database = Database(database_url)
    try:
        with database.session() as session:
            value = session.execute(text(probe)).scalar_one()
    finally:
        database.dispose()
    assert str(value).lower() in ("on", "1")


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_session_uses_one_repeatable_read_snapshot(database_url: str, backend: str) -> None:
    """Server sessions run at repeatable read, so every query of one provider run sees one snapshot."""
    probe = {"postgresql": "SHOW transaction_isolation", "mariadb": "SELECT @@session.tx_isolation"}[backend]
    database = Database(database_url)
    try:
        with database.session() as session:
            level = session.execute(text(probe)).scalar_one()
    finally:
        database.dispose()
    assert str(level).lower().replace("-", " ") == "repeatable read"


# --- the GRANT scripts --------------------------------------------------------------------------


def _statements(script: str) -> list[str]:
    """The statements of a GRANT script (comments stripped; no `;` or `--` inside strings there)."""
    without_comments = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


@pytest.fixture
def grant_account(backend: str, database_url: str) -> Iterator[str]:
    """A login created by docs/sql/<backend>.sql on the test database; yields its URL."""
    url = make_url(database_url)
    role = f"ce_ro_{uuid.uuid4().hex[:10]}"
    script = (SQL_DIR / f"{backend}.sql").read_text(encoding="utf-8")
    script = script.replace("commerce_exporter", role).replace("commerce_platform", str(url.database))
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for statement in _statements(script):
                connection.execute(text(statement))
        yield url.set(username=role, password="change-me").render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(text(f"DROP OWNED BY {role}"))
                connection.execute(text(f"DROP ROLE {role}"))
            else:
                connection.execute(text(f"DROP USER '{role}'@'%'"))
        admin.dispose()


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_grant_script_account_collects_every_provider(seeded: Rows, grant_account: str) -> None:
    """The account of the GRANT script has every privilege a full collection needs."""
    exposition = collect(grant_account, clock=FixedClock(NOW))
    assert [(r.provider, r.error) for r in exposition.results if not r.ok] == []
    assert (
        exposition.value("commerce_vendor_orders", category="orders", key="orders.total", platform="main", vendor="V1")
        == 0
    )


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
@pytest.mark.parametrize("statement", [WRITES["insert"], WRITES["update"], WRITES["drop table"]])
def test_grant_script_account_cannot_write_even_outside_the_exporter(
    seeded: Rows, writer: Engine, grant_account: str, statement: str
) -> None:
    """A plain read-write connection of the GRANT script's account is refused every write."""
    before = _snapshot(writer)
    engine = create_engine(grant_account)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET TRANSACTION READ WRITE"))  # lift the role's read-only default
            with pytest.raises(SQLAlchemyError) as caught:
                connection.execute(text(statement))
                connection.commit()
    finally:
        engine.dispose()
    assert _refused_for_privileges(caught.value), caught.value
    assert _snapshot(writer) == before
