"""The `merchant`, `active` and `verified` labels of `commerce_vendor_info`, on every backend and layout.

The expected info series come from `tests.support.reference`, which reads the owning company of each
vendor from the inserted rows in plain Python (code when the rows have one, else name, else id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, LargeBinary, create_engine

from exporter.schema import Layout, SchemaTables, build_tables
from tests.support.builders import NOW, Rows
from tests.support.databases import create_server_database
from tests.support.exporting import Exposition, FixedClock, LabelSet, collect, make_exporter
from tests.support.layouts import LayoutDatabase
from tests.support.reference import Reference, Window
from tests.support.relaxed import RelaxedDatabases, Variant

INFO = "commerce_vendor_info"


def info_series(exposition: Exposition) -> dict[LabelSet, float]:
    """Every `commerce_vendor_info` series the exporter exposed."""
    return exposition.series(INFO)


def expected_info(rows: Rows) -> dict[LabelSet, float]:
    """The `commerce_vendor_info` series the documented rules give for the inserted rows."""
    expected = Reference(rows.tables, Window.ending(NOW)).expected()
    return {labels: value for (name, labels), value in expected.items() if name == INFO}


def company(rows: Rows, name: object, **extra: object) -> dict[str, object]:
    return rows.add("companies", name=name, is_active=True, is_verified=True, created_at=rows.ago(days=900), **extra)


def merchants_world(rows: Rows) -> dict[str, dict[str, object]]:
    """Two merchants (one vendor of Acme on two platforms), a vendor without merchant, mixed flags."""
    main, market = rows.platform("main"), rows.platform("market")
    acme = company(rows, "Acme Retail")
    nord = company(rows, "Nordwind & Söhne")
    company(rows, "No Stores Ltd")  # owns nothing: appears nowhere
    a1 = rows.vendor("A1", company_id=acme["id"], verified=True)
    a2 = rows.vendor("A2", company_id=acme["id"], active=False, verified=True)
    n1 = rows.vendor("N1", company_id=nord["id"])
    solo = rows.vendor("SOLO")
    rows.link(a1, main)
    rows.link(a1, market)
    rows.link(a2, main)
    rows.link(n1, market)
    rows.link(solo, main)
    return {"acme": acme, "nord": nord, "a1": a1, "a2": a2, "n1": n1, "solo": solo}


def test_info_series_carry_the_merchant_and_flags_under_every_platform(writer: Engine, database_url: str) -> None:
    """Each vendor's info series names its owning company (empty without one) and its flags, on each platform."""
    rows = Rows(writer)
    merchants_world(rows)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert all(r.ok for r in exposition.results)
    assert info_series(exposition) == expected_info(rows)
    by_vendor = {(dict(labels)["platform"], dict(labels)["vendor"]): dict(labels) for labels in info_series(exposition)}
    assert by_vendor[("main", "A1")]["merchant"] == by_vendor[("market", "A1")]["merchant"] == "Acme Retail"
    assert by_vendor[("main", "SOLO")]["merchant"] == ""


def test_the_label_is_merchant_in_every_layout(
    layout: str, layout_database: Callable[[str], LayoutDatabase], backend: str
) -> None:
    """Store naming reads `merchants`/`merchant_id`, the prefixed layout its own tables; the label is `merchant`."""
    database = layout_database(layout)
    engine = create_engine(database.url)
    try:
        rows = Rows(engine, schema=database.tables)
        merchants_world(rows)
        exposition = collect(database.url, clock=FixedClock(NOW), schema=database.section)
    finally:
        engine.dispose()
    assert all(r.ok for r in exposition.results), [r.error for r in exposition.results]
    assert info_series(exposition) == expected_info(rows)
    assert {dict(labels)["merchant"] for labels in info_series(exposition)} == {"Acme Retail", "Nordwind & Söhne", ""}


def test_a_vendor_that_changes_merchant_moves_at_the_next_run(writer: Engine, database_url: str) -> None:
    """Re-assigning a vendor to another company changes its info series at the next collection, not later."""
    rows = Rows(writer)
    world = merchants_world(rows)
    exporter = make_exporter(database_url, clock=FixedClock(NOW))
    try:
        exporter.collect_once()
        before = Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())
        rows.update("vendors", world["a1"], company_id=world["nord"]["id"])
        rows.update("vendors", world["solo"], company_id=world["acme"]["id"], is_verified=True)
        exporter.collect_once()
        after = Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())
    finally:
        exporter.stop()
    assert info_series(after) == expected_info(rows)
    assert info_series(after) != info_series(before)
    merchants = {(dict(s)["platform"], dict(s)["vendor"]): dict(s)["merchant"] for s in info_series(after)}
    assert merchants[("main", "A1")] == merchants[("market", "A1")] == "Nordwind & Söhne"
    assert merchants[("main", "SOLO")] == "Acme Retail"


@pytest.fixture
def coded_database(backend: str, tmp_path: Path) -> Iterator[tuple[str, SchemaTables]]:
    """An empty database whose companies table has a `merchant_code` column, and the tables mapping it."""
    schema = build_tables(Layout.of(columns={"companies.code": "merchant_code"}))
    server = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'coded.sqlite'}"
    else:
        server = create_server_database(backend)
        url = server.url
    engine = create_engine(url)
    schema.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url, schema
    finally:
        if server is not None:
            server.drop()


def test_a_mapped_code_column_is_the_merchant(coded_database: tuple[str, SchemaTables]) -> None:
    """With `companies.code` mapped the label is the code; a NULL or blank code falls back to the name, then the id."""
    url, schema = coded_database
    engine = create_engine(url)
    try:
        rows = Rows(engine, schema=schema)
        main = rows.platform("main")
        coded = company(rows, "Acme Retail", code=" ACME ")
        uncoded = company(rows, "Nordwind", code=None)
        blank = company(rows, "", code="  ")
        for code, owner in (("C1", coded), ("C2", coded), ("U1", uncoded), ("B1", blank)):
            rows.link(rows.vendor(code, company_id=owner["id"]), main)
        exposition = collect(url, clock=FixedClock(NOW), schema={"columns": {"companies.code": "merchant_code"}})
    finally:
        engine.dispose()
    assert all(r.ok for r in exposition.results), [r.error for r in exposition.results]
    assert info_series(exposition) == expected_info(rows)
    merchants = {dict(s)["vendor"]: dict(s)["merchant"] for s in info_series(exposition)}
    assert merchants == {"C1": "ACME", "C2": "ACME", "U1": "Nordwind", "B1": str(blank["id"])}


BINARY_NAMES = Variant("binary-company-names", types={"companies.name": LargeBinary()})
"""Company names in a binary column (BYTEA, BLOB)."""


@pytest.fixture(scope="module")
def relaxed() -> Iterator[RelaxedDatabases]:
    databases = RelaxedDatabases()
    yield databases
    databases.drop()


def test_binary_company_names_count_when_they_are_utf8(backend: str, tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """A UTF-8 name in a binary column is the merchant; bytes that are not UTF-8 leave the company id."""
    with relaxed.use(backend, BINARY_NAMES, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        main = rows.platform("main")
        utf8 = company(rows, "Café Zoë".encode())
        broken = company(rows, b"\xff\xfe caf\xe9")
        rows.link(rows.vendor("V1", company_id=utf8["id"]), main)
        rows.link(rows.vendor("V2", company_id=broken["id"]), main)
        exposition = collect(url, clock=FixedClock(NOW))
    assert info_series(exposition) == expected_info(rows)
    merchants = {dict(s)["vendor"]: dict(s)["merchant"] for s in info_series(exposition)}
    assert merchants == {"V1": "Café Zoë", "V2": str(broken["id"])}
