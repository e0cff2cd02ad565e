"""A platform without merchants: every provider runs, `merchant` is empty, one warning says why and how to fix it.

The companies table and the columns the merchant join reads are optional data. The databases
here are the relaxed tables (no foreign keys) without `companies` (and, in one case, without
`vendors.company_id`); the company rows the data set would have are kept in `Rows.tables` only,
so the expectations are the same data's exposition computed by `tests.support.reference`, with the
merchant labels emptied.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, String, create_engine, text

from exporter.app import Exporter
from tests.support.adversarial import build_world
from tests.support.builders import NOW, Rows
from tests.support.databases import ServerDatabase, create_server_database
from tests.support.exporting import Exposition, FixedClock, LabelSet, make_exporter
from tests.support.processes import run_cli
from tests.support.reference import Expected, Reference, Window, business_samples, mismatches
from tests.support.relaxed import Variant, relaxed_metadata

INFO = "commerce_vendor_info"
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}

WITH_COMPANIES = Variant("with-companies")
NO_COMPANIES = Variant("no-companies", absent=frozenset({"companies"}))
"""A vendors table with a `company_id` column but no companies table."""
NO_MERCHANTS_AT_ALL = Variant("no-merchants-at-all", absent=frozenset({"companies", "vendors.company_id"}))
"""Neither a companies table nor a `vendors.company_id` column: a platform without any merchant concept."""
TEXT_COMPANY_IDS = Variant("text-company-ids", types={"vendors.company_id": String(20)})
"""`vendors.company_id` as text: PostgreSQL cannot compare it with the integer `companies.id`."""

NO_TABLE = "companies: no table companies (fix: schema.tables.companies: <your table>)"
NO_COLUMN = (
    "vendors.company_id: table vendors has no column company_id"
    ' (fix: schema.columns."vendors.company_id": <your column>)'
)
EMPTY = "merchant labels are empty (every provider still runs): "
"""How the one warning line starts; what is missing and its fix follow."""

Database = tuple[str, Engine, MetaData]


@pytest.fixture
def make_database(backend: str, tmp_path: Path) -> Iterator[Callable[[Variant], Database]]:
    """A function: variant → (url, writable engine, metadata) of a database of its own, dropped afterwards.

    Each test gets new databases: the tests below create and drop the companies table.
    """
    servers: list[ServerDatabase] = []
    engines: list[Engine] = []

    def make(variant: Variant) -> Database:
        metadata = relaxed_metadata(variant)
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'{variant.name}.sqlite'}"
        else:
            servers.append(create_server_database(backend))
            url = servers[-1].url
        engine = create_engine(url)
        engines.append(engine)
        metadata.create_all(engine)
        return url, engine, metadata

    yield make
    for engine in engines:
        engine.dispose()
    for server in servers:
        server.drop()


def execute(engine: Engine, *statements: str, rows: list[dict[str, object]] | None = None) -> None:
    """Run DDL/DML as the platform's own migrations would (`rows`: parameters of the last statement)."""
    with engine.begin() as connection:
        for statement in statements[:-1]:
            connection.execute(text(statement))
        connection.execute(text(statements[-1]), rows or [{}])


def scrape(exporter: Exporter) -> Exposition:
    """What a scrape of `exporter` returns now, parsed."""
    return Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())


def expected(rows: Rows, *, merchants: bool) -> Expected:
    """The business and info samples of the inserted rows; without `merchants`, every merchant label emptied."""
    samples = Reference(rows.tables, Window.ending(rows.now)).expected()
    if merchants:
        return samples
    return {(name, _without_merchant(name, labels)): value for (name, labels), value in samples.items()}


def _without_merchant(name: str, labels: LabelSet) -> LabelSet:
    if name != INFO:
        return labels
    return frozenset((key, "" if key == "merchant" else value) for key, value in labels)


def merchants(exposition: Exposition) -> dict[tuple[str, str], str]:
    """(platform, vendor) → merchant label of every vendor info series."""
    found = {}
    for labels in exposition.series(INFO):
        label = dict(labels)
        found[(label["platform"], label["vendor"])] = label["merchant"]
    return found


def merchant_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """(level, message) of every log record about merchant labels."""
    return [(r.levelno, r.getMessage()) for r in caplog.records if "merchant labels" in r.getMessage()]


@pytest.mark.parametrize(
    ("variant", "missing"),
    [(NO_COMPANIES, NO_TABLE), (NO_MERCHANTS_AT_ALL, f"{NO_TABLE}; {NO_COLUMN}")],
    ids=["no-companies-table", "no-company-column-either"],
)
def test_without_companies_every_provider_runs_with_empty_merchants(
    variant: Variant,
    missing: str,
    make_database: Callable[[Variant], Database],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """All providers ok, every value as for the same data with merchants, `merchant=""`, one warning in two rounds."""
    url, engine, metadata = make_database(variant)
    rows = Rows(engine, metadata=metadata, absent=variant.absent)
    build_world(rows)
    exporter = make_exporter(url, clock=FixedClock(NOW))
    try:
        with caplog.at_level(logging.INFO):
            results = exporter.collect_once() + exporter.collect_once()
        exposition = scrape(exporter)
    finally:
        exporter.stop()
    assert [(r.provider, r.error) for r in results if not r.ok] == []
    assert len(results) == 14
    assert "Acme" in {dict(labels).get("merchant") for _, labels in expected(rows, merchants=True)}
    assert mismatches(expected(rows, merchants=False), business_samples(exposition.samples)) == []
    assert set(merchants(exposition).values()) == {""}
    assert merchant_lines(caplog) == [(logging.WARNING, EMPTY + missing)]


def test_a_migration_that_adds_companies_brings_merchants_at_the_recheck(
    make_database: Callable[[Variant], Database], caplog: pytest.LogCaptureFixture
) -> None:
    """After CREATE TABLE companies and its rows, merchants appear once the cached reflection is 60 s old."""
    url, engine, metadata = make_database(NO_COMPANIES)
    rows = Rows(engine, metadata=metadata, absent={"companies"})
    build_world(rows)
    clock = FixedClock(NOW)
    exporter = make_exporter(url, clock=clock)
    try:
        with caplog.at_level(logging.INFO):
            assert all(r.ok for r in exporter.collect_once())
            execute(
                engine,
                "CREATE TABLE companies (id INTEGER PRIMARY KEY, name VARCHAR(255))",
                "INSERT INTO companies (id, name) VALUES (:id, :name)",
                rows=[{"id": c["id"], "name": c["name"]} for c in rows.tables["companies"]],
            )
            clock.advance(59)
            assert all(r.ok for r in exporter.collect_once())
            cached = scrape(exporter)
            clock.advance(1)
            assert all(r.ok for r in exporter.collect_once())
            rechecked = scrape(exporter)
    finally:
        exporter.stop()
    assert set(merchants(cached).values()) == {""}
    assert rechecked.series(INFO) == {
        labels: value for (name, labels), value in expected(rows, merchants=True).items() if name == INFO
    }
    assert "Acme" in merchants(rechecked).values()
    assert merchant_lines(caplog) == [
        (logging.WARNING, EMPTY + NO_TABLE),
        (logging.INFO, "merchant labels are read again: the companies table and its columns are in place"),
    ]


def test_a_companies_table_dropped_under_a_running_exporter_empties_the_merchants(
    make_database: Callable[[Variant], Database], caplog: pytest.LogCaptureFixture
) -> None:
    """DROP TABLE companies: one run fails with the database error, the next runs without merchants and warns once."""
    url, engine, metadata = make_database(WITH_COMPANIES)
    rows = Rows(engine, metadata=metadata)
    build_world(rows)
    exporter = make_exporter(url, clock=FixedClock(NOW))
    try:
        assert all(r.ok for r in exporter.collect_once())
        before = scrape(exporter)
        runtime = exporter.runtime
        assert runtime is not None
        customers = next(p for p in runtime.providers if p.name == "customers")
        execute(engine, "DROP TABLE companies")
        with caplog.at_level(logging.INFO):
            assert runtime.runner.run(customers).reason == "error"  # its statement named the table
            assert runtime.runner.run(customers).ok
        after = scrape(exporter)
    finally:
        exporter.stop()
    assert "Acme" in merchants(before).values()
    assert set(merchants(after).values()) == {""}
    assert merchant_lines(caplog) == [(logging.WARNING, EMPTY + NO_TABLE)]


def test_a_company_id_column_of_another_type_is_not_joined(
    make_database: Callable[[Variant], Database], caplog: pytest.LogCaptureFixture
) -> None:
    """`vendors.company_id` as text: no join (PostgreSQL would refuse it), every provider runs, the warning says why."""
    url, engine, metadata = make_database(TEXT_COMPANY_IDS)
    rows = Rows(engine, metadata=metadata)
    main = rows.platform("main")
    acme = rows.add("companies", name="Acme", is_active=True, is_verified=True, created_at=rows.ago(days=9))
    rows.link(rows.vendor("V1", company_id=str(acme["id"])), main)
    rows.link(rows.vendor("V2"), main)
    exporter = make_exporter(url, clock=FixedClock(NOW))
    try:
        with caplog.at_level(logging.INFO):
            results = exporter.collect_once()
        exposition = scrape(exporter)
    finally:
        exporter.stop()
    assert [(r.provider, r.error) for r in results if not r.ok] == []
    assert merchants(exposition) == {("main", "V1"): "", ("main", "V2"): ""}
    [(level, message)] = merchant_lines(caplog)
    assert level == logging.WARNING
    assert message.startswith(EMPTY + "vendors.company_id: vendors.company_id is ")
    assert message.endswith(
        ', expected a number (fix: schema.columns."vendors.company_id": <a column holding a number>)'
    )


def test_a_mapped_merchant_code_column_that_is_missing_empties_the_merchants(
    make_database: Callable[[Variant], Database], caplog: pytest.LogCaptureFixture
) -> None:
    """`companies.code` mapped to a column the table lacks: every provider runs, merchants empty, the fix logged."""
    url, engine, metadata = make_database(WITH_COMPANIES)
    rows = Rows(engine, metadata=metadata)
    main = rows.platform("main")
    acme = rows.add("companies", name="Acme", is_active=True, is_verified=True, created_at=rows.ago(days=9))
    rows.link(rows.vendor("V1", company_id=acme["id"]), main)
    exporter = make_exporter(url, clock=FixedClock(NOW), schema={"columns": {"companies.code": "merchant_code"}})
    try:
        with caplog.at_level(logging.INFO):
            results = exporter.collect_once()
        exposition = scrape(exporter)
    finally:
        exporter.stop()
    assert [(r.provider, r.error) for r in results if not r.ok] == []
    assert merchants(exposition) == {("main", "V1"): ""}
    assert merchant_lines(caplog) == [
        (
            logging.WARNING,
            EMPTY + "companies.code: table companies has no column merchant_code"
            ' (fix: schema.columns."companies.code": <your column>)',
        )
    ]


def test_check_schema_passes_without_companies_and_shows_the_optional_lines(
    make_database: Callable[[Variant], Database], write_config: Callable[..., Path]
) -> None:
    """Exit 0, every provider can run; the directory lists what the merchant label lacks as OPTIONAL, with the fix."""
    url, engine, _ = make_database(NO_MERCHANTS_AT_ALL)
    execute(engine, "CREATE TABLE merchants (id INTEGER PRIMARY KEY)")  # the platform's own, not the store naming
    result = run_cli("check-schema", "--config", str(write_config({"database": {"url": url}})), env=CLEAN_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "directory (read by every provider run): OK (merchant labels are empty)" in lines
    table = lines.index("OPTIONAL companies no table companies: merchant labels are empty")
    assert lines[table + 1] == "fix: schema.tables.companies: <your table>"
    column = lines.index(
        "OPTIONAL vendors.company_id table vendors has no column company_id: merchant labels are empty"
    )
    assert lines[column + 1] == 'fix: schema.columns."vendors.company_id": <your column>'
    assert "7 of 7 enabled provider(s) can run." in lines
    assert "Cannot run" not in result.stdout and "CANNOT RUN" not in result.stdout
    assert "hint:" not in result.stdout


def test_a_missing_vendors_table_still_stops_every_provider(
    make_database: Callable[[Variant], Database], write_config: Callable[..., Path]
) -> None:
    """The merchant join reads `vendors` too, but a missing vendors table is no optional matter: exit 1, all blocked."""
    url, _, _ = make_database(Variant("no-vendors", absent=frozenset({"vendors"})))
    result = run_cli("check-schema", "--config", str(write_config({"database": {"url": url}})), env=CLEAN_ENV)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "directory (read by every provider run): CANNOT RUN" in lines
    assert "MISSING vendors no table vendors" in lines
    assert "0 of 7 enabled provider(s) can run." in lines
