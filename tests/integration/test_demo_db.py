"""`demo-db` and `collect` on every backend: same data everywhere, exposition clean under promtool."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from exporter.demo.load import Target, _MySQLLoader
from exporter.schema import IMPORT_JOB_STATUSES, ORDER_STATUSES, SPECS, reference_tables
from tests.conftest import BACKEND_PARAMS
from tests.support.databases import ServerDatabase, create_server_database
from tests.support.exporting import FixedClock, collect
from tests.support.layouts import schema_section
from tests.support.processes import promtool, run_cli
from tests.support.reference import business_samples

SERVER_BACKENDS = [param for param in BACKEND_PARAMS if param.id != "sqlite"]
ANCHOR = "2026-06-15T12:00:00"
SIZE = ("--vendors", "40", "--orders", "4000", "--seed", "11", "--anchor", ANCHOR)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, with `env` added to this environment."""
    return run_cli(*args, env={**os.environ, **(env or {})})


def _demo_db(url: str, *extra: str) -> None:
    result = run("demo-db", "--url", url, *SIZE, *extra)
    assert result.returncode == 0, result.stderr


def test_demo_db_fills_every_table_with_every_status(database_url: str, writer: Engine) -> None:
    """demo-db loads rows into every reference table, all order and job statuses, and the requested orders."""
    _demo_db(database_url)
    with writer.connect() as connection:
        counts = {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in reference_tables().sorted_tables
        }
        order_statuses = set(connection.execute(select(reference_tables().orders.c.status).distinct()).scalars())
        jobs = reference_tables().marketplace_import_jobs
        job_statuses = set(connection.execute(select(jobs.c.status).distinct()).scalars())
    assert {name for name, count in counts.items() if count == 0} == set()
    assert counts["orders"] == 4000
    assert order_statuses == set(ORDER_STATUSES)
    assert job_statuses == set(IMPORT_JOB_STATUSES)


def test_demo_db_refuses_a_database_with_rows(database_url: str) -> None:
    """A second demo-db on the same database exits 2 and names --replace; with --replace it succeeds."""
    _demo_db(database_url)
    again = run("demo-db", "--url", database_url, *SIZE)
    assert again.returncode == 2
    assert "--replace" in again.stderr
    _demo_db(database_url, "--replace")


def test_collect_on_demo_data_passes_promtool(database_url: str) -> None:
    """`collect` with COMMERCE_DATABASE_URL exits 0 and `promtool check metrics` finds nothing in its output."""
    _demo_db(database_url)
    result = run("collect", env={"COMMERCE_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert "commerce_vendor_orders_total_revenue_eur{" in result.stdout
    lint = promtool("check", "metrics", stdin=result.stdout.encode())
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout.decode() + lint.stderr.decode()


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_demo_data_exports_the_same_samples_as_on_sqlite(database_url: str, backend: str, tmp_path: Path) -> None:
    """The same demo data on PostgreSQL or MariaDB and on SQLite gives identical business samples."""
    sqlite_url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    _demo_db(database_url)
    _demo_db(sqlite_url)
    clock = FixedClock(datetime.fromisoformat(ANCHOR))
    on_server = collect(database_url, clock=clock)
    on_sqlite = collect(sqlite_url, clock=clock)
    assert all(r.ok for r in on_server.results + on_sqlite.results)
    server_samples, sqlite_samples = business_samples(on_server.samples), business_samples(on_sqlite.samples)
    assert len(sqlite_samples) > 1000
    assert server_samples == sqlite_samples


@pytest.mark.parametrize("backend", [param for param in SERVER_BACKENDS if param.id == "mariadb"])
def test_mysql_loader_falls_back_to_inserts_when_local_files_are_refused(database_url: str, backend: str) -> None:
    """Without the client's local-file permission the server refuses LOAD DATA LOCAL; rows arrive by INSERT."""
    engine = create_engine(database_url, connect_args={"local_infile": False}, poolclass=NullPool)
    table = reference_tables().platforms
    columns = ("id", "code", "name", "is_active", "settings", "created_at")
    target = Target.of(table, columns, engine.dialect)
    rows = [(1, "tab\tback\\slash", 'q"uote\nnew', True, {"k": "v"}, datetime(2026, 1, 2, 3, 4, 5))]
    loader = _MySQLLoader()
    raw = engine.raw_connection()
    try:
        assert loader(raw.driver_connection, target, rows) == 1
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as connection:
        stored = connection.execute(select(table.c.code, table.c.name, table.c.is_active)).one()
    engine.dispose()
    assert loader.local_infile is False
    assert tuple(stored) == ("tab\tback\\slash", 'q"uote\nnew', True)


@pytest.mark.parametrize("backend", [param for param in SERVER_BACKENDS if param.id == "mariadb"])
def test_mysql_loader_keeps_escapes_through_local_files(database_url: str, backend: str) -> None:
    """Tabs, newlines, backslashes, NULLs and JSON survive the TSV file of LOAD DATA LOCAL exactly."""
    engine = create_engine(database_url, connect_args={"local_infile": True}, poolclass=NullPool)
    table = reference_tables().platforms
    columns = ("id", "code", "name", "is_active", "settings", "created_at")
    target = Target.of(table, columns, engine.dialect)
    rows = [
        (1, "tab\tback\\slash", 'q"uote\nnew\r\x00', True, {"k": "v\\"}, datetime(2026, 1, 2, 3, 4, 5)),
        (2, "\\N", "\\", False, None, datetime(2026, 1, 2, 3, 4, 6)),
    ]
    loader = _MySQLLoader()
    raw = engine.raw_connection()
    try:
        assert loader(raw.driver_connection, target, rows) == 2
    finally:
        raw.close()
    with engine.connect() as connection:
        stored = [tuple(r) for r in connection.execute(select(*(table.c[c] for c in columns)).order_by(table.c.id))]
    engine.dispose()
    assert loader.local_infile is True
    assert stored == [tuple(row) for row in rows]


@pytest.fixture
def scratch_urls(backend: str, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A function: name → URL of a new empty database on the current backend; all dropped afterwards."""
    made: list[ServerDatabase] = []

    def make(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / name}.sqlite"
        made.append(create_server_database(backend))
        return made[-1].url

    yield make
    for server in made:
        name = make_url(server.url).database
        server.also.append(f"{name}_shop")  # where the prefixed layout's MySQL tables go
        server.drop()


def test_demo_db_builds_the_store_naming_and_a_prefixed_renamed_layout(
    scratch_urls: Callable[[str], str], backend: str, write_config: Callable[..., Path]
) -> None:
    """`demo-db --naming store` and `demo-db --config` (prefixed tables in another schema, renamed columns) hold the
    same data as the reference layout: the exporter, told each layout, exposes the same business samples."""
    exposed = {}
    for layout in ("reference", "store", "prefixed"):
        url = scratch_urls(layout)
        section = schema_section(layout, backend, make_url(url).database)
        if layout == "prefixed":
            _demo_db(url, "--config", str(write_config({"database": {"url": url}, "schema": section})))
        else:
            _demo_db(url, "--naming", layout)
        engine = create_engine(url)
        inspector = inspect(engine)
        where = section.get("database_schema")
        names = set(inspector.get_table_names(schema=where))
        if layout == "store":
            assert {"stores", "store_platforms", "store_users", "store_domains", "merchants"} <= names
            assert "vendors" not in names
            assert "store_code" in {c["name"] for c in inspector.get_columns("stores")}
        if layout == "prefixed":
            assert {f"shop_{name}" for name in SPECS} == names
            columns = {c["name"] for c in inspector.get_columns("shop_orders", schema=where)}
            assert {"placed_at", "grand_total_cents", "order_status"} <= columns
        engine.dispose()
        result = collect(url, clock=FixedClock(datetime.fromisoformat(ANCHOR)), schema=section)
        assert [r.provider for r in result.results if not r.ok] == []
        exposed[layout] = business_samples(result.samples)
    assert len(exposed["reference"]) > 1000
    assert exposed["store"] == exposed["reference"]
    assert exposed["prefixed"] == exposed["reference"]


def test_demo_has_merchants_of_several_vendors_one_of_them_on_two_platforms() -> None:
    """The default demo data has merchants owning several exported vendors, one of those vendors on two platforms."""
    from exporter.demo.data import DemoData, DemoSize

    data = DemoData(DemoSize(), datetime.fromisoformat(ANCHOR))
    tables = {name: [dict(zip(columns, row, strict=True)) for row in rows] for name, columns, rows in data.tables()}
    active = {p["id"] for p in tables["platforms"] if p["is_active"]}
    platforms_of: dict[int, set[int]] = {}
    for link in tables["vendor_platforms"]:
        if link["is_active"] and link["platform_id"] in active:
            platforms_of.setdefault(link["vendor_id"], set()).add(link["platform_id"])
    vendors_of: dict[int, set[int]] = {}
    for vendor in tables["vendors"]:
        if vendor["company_id"] is not None and vendor["id"] in platforms_of:
            vendors_of.setdefault(vendor["company_id"], set()).add(vendor["id"])
    several = {company: vendors for company, vendors in vendors_of.items() if len(vendors) >= 3}
    assert len(several) >= 3
    assert any(len(platforms_of[v]) >= 2 for vendors in several.values() for v in vendors)
