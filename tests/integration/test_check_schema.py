"""check-schema and the run-time schema check: what is missing or mistyped is named with its fix; others run."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.types import NullType

from exporter.contracts import KnownValuesProvider, SchemaAwareProvider
from exporter.discovery import discover, instantiate
from exporter.schema import Layout, SchemaTables, build_tables, reference_tables
from exporter.schemacheck import directory_needs, merchant_needs, type_fits
from providers.orders import OrdersMetricsProvider
from tests.support.adversarial import build_world
from tests.support.builders import NOW, Rows
from tests.support.databases import create_server_database
from tests.support.exporting import FixedClock, collect, make_exporter
from tests.support.processes import run_cli
from tests.support.reference import business_samples

STORE = build_tables(Layout.of("store"))
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (these tests change its tables), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    server = create_server_database(backend)
    try:
        yield server.url
    finally:
        server.drop()


def create(url: str, tables: SchemaTables, *, skip: tuple[str, ...] = ()) -> Rows:
    """Create `tables` (all but the reference tables in `skip`) and fill them with the adversarial data set."""
    engine = create_engine(url)
    try:
        tables.metadata.create_all(engine, tables=[t for t in tables.sorted_tables if t.name not in skip])
        rows = Rows(engine, schema=tables)
        if not skip:
            build_world(rows)
        return rows
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run DDL/DML as the platform's own migrations would."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def check_schema(write_config: Callable[..., Path], url: str, **schema: Any) -> subprocess.CompletedProcess[str]:
    """`commerce-exporter check-schema` on `url` with this `schema:` section."""
    path = write_config({"database": {"url": url}, "schema": schema})
    return run_cli("check-schema", "--config", str(path), env=CLEAN_ENV)


# --- what each reader needs, derived from its statements -------------------------------------


def test_directory_needs_are_derived_from_its_statements() -> None:
    """Every column the directory must read (the merchant aside), and nothing else, is found in its statements."""
    keys = {reference_tables().key_of(c) for c in directory_needs(reference_tables()).columns}
    assert keys == {
        "platforms.id",
        "platforms.code",
        "platforms.name",
        "platforms.is_active",
        "vendor_platforms.platform_id",
        "vendor_platforms.vendor_id",
        "vendor_platforms.is_active",
        "vendors.id",
        "vendors.vendor_code",
        "vendors.name",
        "vendors.is_active",
        "vendors.is_verified",
        "platform_modules.platform_id",
        "platform_modules.module_code",
        "platform_modules.is_enabled",
    }


def test_merchant_needs_are_what_the_join_adds() -> None:
    """The optional merchant join reads the owning company: `vendors.company_id`, `companies.id` and its name."""
    keys = {reference_tables().key_of(c) for c in merchant_needs(reference_tables()).columns}
    assert keys == {"vendors.company_id", "companies.id", "companies.name"}


def test_a_mapped_merchant_code_is_read_by_the_directory() -> None:
    """`companies.code` is read (and so checked, as optional) only when the schema section maps it."""
    coded = build_tables(Layout.of(columns={"companies.code": "merchant_code"}))
    assert "companies.code" in {coded.key_of(c) for c in merchant_needs(coded).columns}
    assert "companies.code" not in {coded.key_of(c) for c in directory_needs(coded).columns}
    assert "code" in coded.companies.c and "code" not in reference_tables().companies.c
    assert coded.companies.c.code.name == "merchant_code"


def test_a_mapped_merchant_code_column_that_is_missing_stops_no_provider(
    sqlite_url: str, write_config: Callable[..., Path]
) -> None:
    """`companies.code` mapped to a column the table lacks: an OPTIONAL directory line with the fix, exit 0."""
    result = check_schema(write_config, sqlite_url, columns={"companies.code": "merchant_code"})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    optional = lines.index(
        "OPTIONAL companies.code table companies has no column merchant_code: merchant labels are empty"
    )
    assert lines[optional + 1] == 'fix: schema.columns."companies.code": <your column>'
    assert "directory (read by every provider run): OK (merchant labels are empty)" in lines
    assert "OK companies.name companies.name VARCHAR(255) (optional)" in lines
    assert "7 of 7 enabled provider(s) can run." in lines


def test_provider_needs_cover_every_statement_path() -> None:
    """The orders provider needs exactly the orders columns its grouped query reads plus the active links."""
    t = reference_tables()
    keys = {t.key_of(c) for c in OrdersMetricsProvider().schema_requirements(t)}
    assert keys == {
        "orders.vendor_id",
        "orders.status",
        "orders.currency",
        "orders.total_amount_cents",
        "orders.created_at",
        "vendor_platforms.vendor_id",
        "vendor_platforms.platform_id",
        "vendor_platforms.is_active",
    }


def test_every_built_in_provider_declares_what_it_reads() -> None:
    """All seven built-ins implement schema_requirements; orders and marketplace also name their status columns."""
    providers = {c.name: instantiate(c).impl for c in discover()}
    assert all(isinstance(p, SchemaAwareProvider) for p in providers.values())
    assert {name for name, p in providers.items() if isinstance(p, KnownValuesProvider)} == {"orders", "marketplace"}


@pytest.mark.parametrize(
    ("kind", "found", "backend", "fits"),
    [
        ("integer", BigInteger(), "postgresql", True),
        ("integer", Numeric(12, 0), "mysql", True),
        ("integer", String(20), "sqlite", False),
        ("text", Text(), "postgresql", True),
        ("text", Integer(), "postgresql", False),
        ("boolean", Boolean(), "postgresql", True),
        ("boolean", SmallInteger(), "postgresql", False),  # IS TRUE fails on an integer there
        ("boolean", SmallInteger(), "mysql", True),  # MySQL's BOOL is TINYINT(1)
        ("datetime", DateTime(timezone=True), "postgresql", True),
        ("datetime", Date(), "mysql", True),
        ("datetime", String(26), "sqlite", True),  # SQLite keeps datetimes as text
        ("datetime", String(26), "postgresql", False),
        ("datetime", NullType(), "postgresql", None),  # not recognised: not held against the column
    ],
)
def test_column_types_are_accepted_by_kind(kind: str, found: Any, backend: str, fits: bool | None) -> None:
    """A database type fits a reference column's kind as the table in docs/database.md says."""
    assert type_fits(kind, found, backend) is fits


# --- check-schema ------------------------------------------------------------------------------


def test_check_schema_passes_on_a_complete_store_database(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """Every table and column in place under the store naming: each key OK, exit 0."""
    create(fresh_url, STORE)
    result = check_schema(write_config, fresh_url, naming="store")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 of 7 enabled provider(s) can run." in result.stdout
    assert "vendors.vendor_code" in result.stdout and "stores.store_code" in result.stdout
    assert "MISSING" not in result.stdout and "MISTYPED" not in result.stdout
    assert "provider orders: OK" in result.stdout


def test_missing_column_is_named_with_the_line_that_fixes_it(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """A column under another name: that provider cannot run (exit 1); the mapping line the report names fixes it."""
    create(fresh_url, build_tables(Layout.of("store", columns={"orders.total_amount_cents": "grand_total_cents"})))
    result = check_schema(write_config, fresh_url, naming="store")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    missing = next(i for i, line in enumerate(lines) if "MISSING" in line)
    assert lines[missing].split() == [
        "MISSING",
        "orders.total_amount_cents",
        "table",
        "orders",
        "has",
        "no",
        "column",
        "total_amount_cents",
    ]
    assert lines[missing + 1].strip() == 'fix: schema.columns."orders.total_amount_cents": <your column>'
    assert "provider orders: CANNOT RUN" in result.stdout
    assert "provider customers: OK" in result.stdout
    assert result.stdout.rstrip().endswith("6 of 7 enabled provider(s) can run.\nCannot run: orders.")
    fixed = check_schema(
        write_config, fresh_url, naming="store", columns={"orders.total_amount_cents": "grand_total_cents"}
    )
    assert fixed.returncode == 0, fixed.stdout


def test_missing_table_is_named_with_the_line_that_fixes_it(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """Without store_domains only tenancy cannot run, and the report names schema.tables.vendor_domains."""
    create(fresh_url, STORE)
    execute(fresh_url, "DROP TABLE store_domains")
    result = check_schema(write_config, fresh_url, naming="store")
    assert result.returncode == 1
    assert "  MISSING   vendor_domains " in result.stdout
    assert "no table store_domains" in result.stdout
    assert "fix: schema.tables.vendor_domains: <your table>" in result.stdout
    assert "Cannot run: tenancy." in result.stdout


def test_the_other_naming_is_suggested_when_it_fits(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """A store-naming database checked with the reference naming: every provider is blocked and the hint says store."""
    create(fresh_url, STORE)
    result = check_schema(write_config, fresh_url)
    assert result.returncode == 1
    assert "hint: the missing tables exist under the store naming; fix: schema.naming: store" in result.stdout
    assert "0 of 7 enabled provider(s) can run." in result.stdout


def test_wrong_column_type_is_reported_with_the_type_found(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """Order totals stored as text: orders is MISTYPED with the database's type and cannot run."""
    create(fresh_url, STORE, skip=("orders",))
    odd = MetaData()
    Table(
        "orders",
        odd,
        *(
            Column(c.name, String(20) if c.key == "total_amount_cents" else c.type, primary_key=c.primary_key)
            for c in STORE.orders.columns
        ),
    )
    engine = create_engine(fresh_url)
    odd.create_all(engine)
    engine.dispose()
    result = check_schema(write_config, fresh_url, naming="store")
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "MISTYPED" in line)
    assert line.split()[:2] == ["MISTYPED", "orders.total_amount_cents"]
    assert line.endswith("orders.total_amount_cents is VARCHAR(20), expected a number")
    assert 'fix: schema.columns."orders.total_amount_cents": <a column holding a number>' in result.stdout
    assert "Cannot run: orders." in result.stdout


def test_unknown_status_values_are_counted_with_what_happens_to_them(
    fresh_url: str, write_config: Callable[..., Path], backend: str
) -> None:
    """Statuses outside the catalog are listed with their row counts and effect; they do not block a provider."""
    rows = create(fresh_url, STORE)
    vendor = rows.tables["vendors"][0]
    for status in ("paid", "paid", "paid", "on-hold"):
        rows.order(vendor, 100, status=status)
    rows.job(vendor, "queued")
    result = check_schema(write_config, fresh_url, naming="store")
    assert result.returncode == 0, result.stdout
    out = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "values orders.status: 2 value(s) outside the catalog in 4 row(s)" in out
    effect = (
        "counted in orders.total and orders.new only: in no status count, not as revenue "
        "(if it is revenue, list it in providers.orders.settings.revenue_statuses)"
    )
    assert f"'paid' 3 row(s): {effect}" in out
    assert f"'on-hold' 1 row(s): {effect}" in out
    assert "values marketplace_import_jobs.status: 1 value(s) outside the catalog in 1 row(s)" in out
    assert any(line.startswith("'queued' 1 row(s): counted in marketplace.import_jobs only") for line in out)


def test_a_status_listed_as_revenue_is_reported_as_revenue(fresh_url: str, write_config: Callable[..., Path]) -> None:
    """A custom status named in revenue_statuses is reported as counted in revenue, not as left out."""
    rows = create(fresh_url, STORE)
    rows.order(rows.tables["vendors"][0], 100, status="paid")
    path = write_config(
        {
            "database": {"url": fresh_url},
            "schema": {"naming": "store"},
            "providers": {"orders": {"settings": {"revenue_statuses": ["delivered", "paid"]}}},
        }
    )
    result = run_cli("check-schema", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 0
    assert "counted in orders.total, orders.new and as revenue" in result.stdout


def test_check_schema_exits_2_on_a_mapping_error(write_config: Callable[..., Path], sqlite_url: str) -> None:
    """A key that is not a reference table or column: exit 2, the path named, nothing reflected."""
    result = check_schema(
        write_config, sqlite_url, tables={"order": "shop_orders"}, columns={"orders.grand_total": "grand"}
    )
    assert result.returncode == 2
    assert "schema.tables.order: not a reference table" in result.stderr
    assert 'schema.columns."orders.grand_total": orders has no reference column grand_total' in result.stderr
    assert result.stdout == ""


def test_check_schema_exits_1_when_the_database_cannot_be_read(write_config: Callable[..., Path]) -> None:
    """An unreachable server: exit 1 with the reason and the URL without its password, not a traceback."""
    url = "postgresql+psycopg://nobody:s3cret-pw@127.0.0.1:1/none"
    path = write_config({"database": {"url": url, "connect_timeout": "1s"}})
    result = run_cli("check-schema", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 1
    assert "check-schema: cannot read postgresql+psycopg://nobody:***@127.0.0.1:1/none" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_a_provider_that_declares_nothing_is_not_checked(write_config: Callable[..., Path], sqlite_url: str) -> None:
    """A third-party provider without schema_requirements is reported as not checked and does not change the exit."""
    engine = create_engine(sqlite_url)
    Rows(engine)
    engine.dispose()
    path = write_config(
        {
            "database": {"url": sqlite_url},
            "providers": {"opaque": {"factory": "tests.integration.test_check_schema:Opaque"}},
        }
    )
    result = run_cli("check-schema", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "provider opaque: not checked (it does not declare schema_requirements" in result.stdout
    assert "8 of 8 enabled provider(s) can run." in result.stdout


class Opaque:
    """A seed-protocol provider that does not say what it reads."""

    @property
    def metrics_category(self) -> str:
        return "opaque"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[Any]:
        return []

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[Any]:
        return []


# --- at run time ---------------------------------------------------------------------------------


def test_run_time_fails_only_the_affected_provider_with_reason_schema(
    fresh_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """orders fails with reason schema, sends none of its SQL, logs one line with the fix; the rest is unchanged."""
    create(fresh_url, build_tables(Layout.of("store", columns={"orders.total_amount_cents": "grand_total_cents"})))
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with caplog.at_level(logging.WARNING, logger="exporter.runs"):
            broken = collect(fresh_url, clock=FixedClock(NOW), schema={"naming": "store"})
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    complete_without_orders = collect(
        fresh_url,
        clock=FixedClock(NOW),
        schema={"naming": "store", "columns": {"orders.total_amount_cents": "grand_total_cents"}},
        providers={"orders": {"enabled": False}},
    )
    failed = {r.provider: r.reason for r in broken.results if not r.ok}
    assert failed == {"orders": "schema"}
    assert business_samples(broken.samples) == business_samples(complete_without_orders.samples)
    assert broken.value("commerce_exporter_provider_failures_total", provider="orders", reason="schema") == 1
    assert broken.value("commerce_exporter_provider_up", provider="orders") == 0
    assert broken.value("commerce_exporter_provider_up", provider="inventory") == 1
    assert not [s for s in sent if "total_amount_cents" in s or "grand_total_cents" in s]
    logged = [r.getMessage() for r in caplog.records if "provider orders" in r.getMessage()]
    assert logged == [
        "provider orders failed (schema): orders.total_amount_cents: table orders has no column total_amount_cents"
        ' (fix: schema.columns."orders.total_amount_cents": <your column>)'
    ]


ADD_THE_COLUMN = (
    "ALTER TABLE orders ADD COLUMN total_amount_cents BIGINT",
    "UPDATE orders SET total_amount_cents = grand_total_cents",
)


def test_a_migration_that_adds_the_column_is_picked_up_by_the_recheck(fresh_url: str, backend: str) -> None:
    """After ALTER TABLE … ADD COLUMN the provider runs again once the cached reflection is 60 s old, no restart."""
    create(fresh_url, build_tables(Layout.of("store", columns={"orders.total_amount_cents": "grand_total_cents"})))
    clock = FixedClock(NOW)
    exporter = make_exporter(fresh_url, clock=clock, schema={"naming": "store"})
    try:
        exporter.collect_once()
        runtime = exporter.runtime
        assert runtime is not None
        orders = next(p for p in runtime.providers if p.name == "orders")
        execute(fresh_url, *ADD_THE_COLUMN)
        clock.advance(59)
        assert runtime.runner.run(orders).reason == "schema"  # reflection still cached
        clock.advance(1)
        assert runtime.runner.run(orders).ok
    finally:
        exporter.stop()


def test_a_migration_that_adds_the_column_is_picked_up_at_once_on_reload(fresh_url: str, backend: str) -> None:
    """A reload reflects afresh: the provider runs at once, without waiting for the re-check."""
    create(fresh_url, build_tables(Layout.of("store", columns={"orders.total_amount_cents": "grand_total_cents"})))
    exporter = make_exporter(fresh_url, clock=FixedClock(NOW), schema={"naming": "store"})
    try:
        results = {r.provider: r.reason for r in exporter.collect_once()}
        assert results["orders"] == "schema"
        execute(fresh_url, *ADD_THE_COLUMN)
        assert exporter.reload()  # also starts the schedule: its first runs go on in the background
        runtime = exporter.runtime
        assert runtime is not None
        assert runtime.runner.run(next(p for p in runtime.providers if p.name == "orders")).ok
    finally:
        exporter.stop(wait=True, timeout=30)


def test_a_column_dropped_while_running_turns_into_reason_schema(fresh_url: str, backend: str) -> None:
    """A column dropped under a running exporter fails the next run with a database error, then with reason schema."""
    create(fresh_url, STORE)
    exporter = make_exporter(fresh_url, clock=FixedClock(NOW), schema={"naming": "store"})
    try:
        assert all(r.ok for r in exporter.collect_once())
        runtime = exporter.runtime
        assert runtime is not None
        customers = next(p for p in runtime.providers if p.name == "customers")
        execute(fresh_url, "ALTER TABLE customers DROP COLUMN is_active")
        assert runtime.runner.run(customers).reason == "error"
        second = runtime.runner.run(customers)
        assert second.reason == "schema"
        assert (
            second.error is not None and "customers.is_active: table customers has no column is_active" in second.error
        )
    finally:
        exporter.stop()


def test_missing_directory_tables_fail_every_provider_with_reason_schema(sqlite_url: str) -> None:
    """Configured for the store naming on a reference database: every provider fails with reason schema."""
    exposition = collect(sqlite_url, clock=FixedClock(NOW), schema={"naming": "store"})
    assert {r.provider: r.reason for r in exposition.results} == {
        name: "schema" for name in ("tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace")
    }
    assert business_samples(exposition.samples) == {}
