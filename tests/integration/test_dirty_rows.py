"""Dirty rows cost only what they touch: each case on every backend against the clean baseline.

Every case starts from the adversarial data set in relaxed tables (no NOT NULL, no UNIQUE,
NUMERIC or float money: what a real platform may have), collects a clean baseline, makes the
rows dirty, and collects again. Then:

- the whole exposition equals `tests.support.reference`, which applies the documented rules
  (docs/database.md, "Dirty rows") to the dirty rows in plain Python;
- every series the case does not touch equals the baseline;
- `commerce_exporter_values_dropped_total` equals the reference's count, per provider and reason,
  and the reasons the case is about are among them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Double, Engine, text
from sqlalchemy.orm import Session

from exporter.contracts import DATA_REASONS, Dropped, DropReason, MetricValue
from exporter.directory import label_text
from exporter.discovery import Candidate
from providers._base import currency_code, default_context
from providers.orders import OrdersMetricsProvider
from tests.support.adversarial import HOSTILE_CODE, HOSTILE_CODE_2, World, build_world
from tests.support.builders import NOW, Rows
from tests.support.exporting import Exposition, FixedClock, LabelSet, collect, make_exporter
from tests.support.processes import run_cli
from tests.support.provider_samples import raw_values
from tests.support.reference import Reference, Window, business_samples, mismatches
from tests.support.relaxed import BINARY_CODES, FLOAT, INTEGER_CODES, NUMERIC, RelaxedDatabases, Variant

ORDER_COUNTS = frozenset({"orders.total", "orders.pending", "orders.cancelled", "orders.refunded", "orders.new"})
INVENTORY = frozenset(
    {"inventory.units", "inventory.units_reserved", "inventory.units_available", "inventory.out_of_stock"}
    | {"inventory.low_stock"}
)

Touches = Callable[[str, Mapping[str, str]], bool]
"""Whether a series (name, labels) may differ from the baseline in a case."""


@dataclass(frozen=True)
class Case:
    """One kind of dirty row: how to make the world dirty, what it may change, what must be counted."""

    id: str
    dirty: Callable[[Rows, World, str], None]
    touches: Touches
    reasons: frozenset[str] = frozenset()
    variants: tuple[Variant, ...] = (NUMERIC,)


def nothing(name: str, labels: Mapping[str, str]) -> bool:
    """The case must leave the whole exposition as it was."""
    return False


def series_of(
    vendors: frozenset[str] = frozenset(),
    platforms: frozenset[str] = frozenset(),
    keys: frozenset[str] | None = None,
    info: bool = False,
) -> Touches:
    """Series of these vendors (any platform) and platform-scope series of these platforms, for `keys` (None: all),
    and their info series when `info`."""

    def touches(name: str, labels: Mapping[str, str]) -> bool:
        if name.endswith("_info") and "key" not in labels:
            return info and (
                labels.get("vendor") in vendors or ("vendor" not in labels and labels["platform"] in platforms)
            )
        if keys is not None and labels.get("key") not in keys:
            return False
        return labels.get("vendor") in vendors or ("vendor" not in labels and labels.get("platform") in platforms)

    return touches


def under_platform(code: str) -> Touches:
    """Every series labelled with platform `code`."""
    return lambda name, labels: labels.get("platform") == code


# --- the cases -----------------------------------------------------------------------------


def _names_blank(rows: Rows, world: World, backend: str) -> None:
    rows.update("vendors", world.plain, name=None)
    rows.update("vendors", world.half, name="")
    rows.update("vendors", world.empty, name=" \t ")


def _merchant_names_dirty(rows: Rows, world: World, backend: str) -> None:
    acme, unowned = rows.tables["companies"][:2]
    rows.update("companies", acme, name=None)  # `both`: the merchant shows the company id
    rows.update("companies", unowned, name="  Ünowned \t")  # trimmed
    rows.update("vendors", world.half, company_id=unowned["id"])
    blank = rows.add("companies", name=" \t ", is_active=True, is_verified=False, created_at=rows.ago(days=9))
    rows.update("vendors", world.plain, company_id=blank["id"])  # blank: the id again
    rows.update("vendors", world.empty, company_id=9999)  # no such company (no foreign key): no merchant


def _platform_names_blank(rows: Rows, world: World, backend: str) -> None:
    rows.update("platforms", world.market, name=None)
    rows.update("platforms", world.main, name="  ")


def _codes_missing(rows: Rows, world: World, backend: str) -> None:
    rows.update("vendors", world.plain, vendor_code=None)
    rows.update("vendors", world.half, vendor_code="")
    rows.update("vendors", world.empty, vendor_code="  \t")


def _codes_padded_and_duplicate(rows: Rows, world: World, backend: str) -> None:
    rows.update("vendors", world.half, vendor_code=f"  {HOSTILE_CODE_2}   ")  # padded, still unique: unchanged
    rows.update("vendors", world.plain, vendor_code=f" {HOSTILE_CODE} ")  # both (a lower id) has this code


def _platform_code_missing(rows: Rows, world: World, backend: str) -> None:
    rows.update("platforms", world.market, code=None)


def _platform_code_duplicate(rows: Rows, world: World, backend: str) -> None:
    rows.update("platforms", world.market, code=" main")


def _currency_spellings(rows: Rows, world: World, backend: str) -> None:
    spellings = {"EUR": cycle(["eur", " EUR", "Eur ", "eUr"]), "USD": cycle(["usd", " Usd  ", "USD"])}
    for order in rows.tables["orders"]:
        if order["vendor_id"] in (world.both["id"], world.half["id"]):
            rows.update("orders", order, currency=next(spellings[order["currency"]]))


def _currency_unusable(rows: Rows, world: World, backend: str) -> None:
    for status, currency in [
        ("delivered", None),
        ("shipped", ""),
        ("pending", "   "),
        ("delivered", "EURO"),
        ("processing", "€"),
        ("delivered", "E1R"),
        ("cancelled", None),  # not a revenue order: nothing is left out
    ]:
        rows.order(world.both, 1234, status=status, currency=currency)
    rows.order(world.plain, 777, currency=None)  # plain has no other revenue: it keeps its 0 EUR
    rows.order(world.half, 500, currency=None, created_at=NOW)  # a new order


def _amount_unusable(rows: Rows, world: World, backend: str) -> None:
    # PostgreSQL stores NaN in NUMERIC(p, s), and ±Infinity too in a float column; SQLite keeps
    # infinities (its NaN is NULL); MariaDB refuses both, so there the case is a NULL total.
    floats = isinstance(rows.metadata.tables["orders"].c.total_amount_cents.type, Double)
    if backend == "postgresql":
        bad: list[Any] = [None, float("nan")] + ([float("inf"), float("-inf")] if floats else [])
    elif backend == "sqlite":
        bad = [None, float("nan"), float("inf")]
    else:
        bad = [None]
    for amount in bad:
        rows.order(world.both, amount, status="delivered")
        rows.order(world.half, amount, status="shipped", currency="USD", created_at=NOW)
    rows.order(world.both, bad[-1], status="refunded")  # not a revenue order: nothing is left out


def _fractional_cents(rows: Rows, world: World, backend: str) -> None:
    # Binary fractions, so that float columns (and SQLite, whose NUMERIC holds REALs) sum them exactly.
    for amount in (Decimal("1999.5"), Decimal("0.25"), Decimal("0.125")):
        rows.order(world.both, amount, status="delivered")
    rows.order(world.half, Decimal("0.5"), status="delivered", currency="USD")
    if backend != "sqlite":
        rows.order(world.plain, Decimal("0.0001"), status="shipped")  # a decimal fraction NUMERIC keeps exactly


def _statuses_outside_catalog(rows: Rows, world: World, backend: str) -> None:
    for status in ("on_hold", "DELIVERED", None, "", " shipped"):
        rows.order(world.both, 100, status=status)
    rows.order(world.plain, 100, status="awaiting_payment", created_at=NOW)
    rows.job(world.both, "queued")
    rows.job(world.plain, None)


def _negative_stock(rows: Rows, world: World, backend: str) -> None:
    products = {p["vendor_id"]: p for p in rows.tables["products"] if p["is_active"]}
    both, plain = products[world.both["id"]], products[world.plain["id"]]
    rows.stock(both, -5, 0, warehouse="NEG1")  # oversold: 0 on hand
    rows.stock(both, 4, -2, warehouse="NEG2")  # negative reservation: 4 available, not 6
    rows.stock(both, -1, -1, warehouse="NEG3")  # both negative: one row
    rows.stock(plain, -3, 1, warehouse="NEG4")


CASES = [
    Case(
        "vendor-name-null-empty-blank",
        _names_blank,
        series_of(vendors=frozenset({"ÅSA-Ω", HOSTILE_CODE_2, "EMPTY"}), keys=frozenset(), info=True),
    ),
    Case(
        "merchant-name-null-blank-padded-missing",
        _merchant_names_dirty,
        series_of(vendors=frozenset({HOSTILE_CODE, "ÅSA-Ω", HOSTILE_CODE_2, "EMPTY"}), keys=frozenset(), info=True),
    ),
    Case(
        "platform-name-null-blank",
        _platform_names_blank,
        series_of(platforms=frozenset({"main", "market"}), keys=frozenset(), info=True),
    ),
    Case(
        "vendor-code-null-empty-blank",
        _codes_missing,
        series_of(vendors=frozenset({"ÅSA-Ω", HOSTILE_CODE_2, "EMPTY"}), info=True),
        frozenset({"missing_code"}),
    ),
    Case(
        "vendor-code-padded-and-duplicate",
        _codes_padded_and_duplicate,
        series_of(vendors=frozenset({"ÅSA-Ω"}), info=True),
        frozenset({"duplicate_code"}),
    ),
    Case("platform-code-null", _platform_code_missing, under_platform("market"), frozenset({"missing_code"})),
    Case("platform-code-duplicate", _platform_code_duplicate, under_platform("market"), frozenset({"duplicate_code"})),
    Case("currency-any-case-or-padded", _currency_spellings, nothing),
    Case(
        "currency-null-blank-invalid",
        _currency_unusable,
        series_of(
            vendors=frozenset({HOSTILE_CODE, "ÅSA-Ω", HOSTILE_CODE_2}),
            platforms=frozenset({"main", "market"}),
            keys=ORDER_COUNTS,
        ),
        frozenset({"currency"}),
    ),
    Case(
        "amount-null-nan-infinite",
        _amount_unusable,
        series_of(
            vendors=frozenset({HOSTILE_CODE, HOSTILE_CODE_2}),
            platforms=frozenset({"main", "market"}),
            keys=ORDER_COUNTS,
        ),
        frozenset({"amount"}),
        variants=(NUMERIC, FLOAT),
    ),
    Case(
        "fractional-cents",
        _fractional_cents,
        series_of(
            vendors=frozenset({HOSTILE_CODE, HOSTILE_CODE_2, "ÅSA-Ω"}),
            platforms=frozenset({"main", "market"}),
            keys=ORDER_COUNTS | {"orders.total_revenue", "orders.average_value"},
        ),
        variants=(NUMERIC, FLOAT),
    ),
    Case(
        "status-outside-catalog",
        _statuses_outside_catalog,
        series_of(
            vendors=frozenset({HOSTILE_CODE, "ÅSA-Ω"}),
            platforms=frozenset({"main", "market"}),
            keys=frozenset({"orders.total", "orders.new", "marketplace.import_jobs"}),
        ),
    ),
    Case(
        "negative-stock",
        _negative_stock,
        series_of(vendors=frozenset({HOSTILE_CODE, "ÅSA-Ω"}), platforms=frozenset({"main", "market"}), keys=INVENTORY),
        frozenset({"negative_stock"}),
    ),
]


# --- running a case ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relaxed() -> Iterator[RelaxedDatabases]:
    """Relaxed scratch databases on the server backends, dropped after this module."""
    databases = RelaxedDatabases()
    yield databases
    databases.drop()


def dropped(exposition: Exposition) -> dict[tuple[str, str], int]:
    """(provider, reason) → non-zero `commerce_exporter_values_dropped_total`."""
    return {
        (labels["provider"], labels["reason"]): int(value)
        for (name, label_set), value in exposition.samples.items()
        if name == "commerce_exporter_values_dropped_total" and value
        for labels in [dict(label_set)]
    }


def untouched(exposition: Exposition, touches: Touches) -> dict[tuple[str, LabelSet], float]:
    """Business samples a case must not change."""
    return {s: v for s, v in business_samples(exposition.samples).items() if not touches(s[0], dict(s[1]))}


def checked_collect(url: str) -> Exposition:
    """One collection in which every provider succeeded."""
    exposition = collect(url, clock=FixedClock(NOW))
    assert [(r.provider, r.error) for r in exposition.results if not r.ok] == []
    return exposition


def _check_against_reference(rows: Rows, exposition: Exposition) -> Reference:
    reference = Reference(rows.tables, Window.ending(NOW))
    assert mismatches(reference.expected(), business_samples(exposition.samples)) == []
    assert dropped(exposition) == reference.dropped()
    return reference


CASE_PARAMS = [
    pytest.param(case, variant, id=f"{case.id}-{variant.name}") for case in CASES for variant in case.variants
]


@pytest.mark.parametrize(("case", "variant"), CASE_PARAMS)
def test_dirty_rows_cost_only_what_they_touch(
    case: Case, variant: Variant, backend: str, tmp_path: Path, relaxed: RelaxedDatabases
) -> None:
    """The dirty exposition is the reference's, the rest equals the clean baseline, and drops are counted."""
    with relaxed.use(backend, variant, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        world = build_world(rows)
        baseline = checked_collect(url)
        assert dropped(baseline) == {}
        case.dirty(rows, world, backend)
        exposition = checked_collect(url)
        reference = _check_against_reference(rows, exposition)
        assert untouched(exposition, case.touches) == untouched(baseline, case.touches)
        assert case.reasons <= {reason for _, reason in reference.dropped()}


def test_fractional_cents_are_written_exactly(backend: str, tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """NUMERIC totals with fractions of a cent give exact revenue text, not truncated to whole cents."""
    with relaxed.use(backend, NUMERIC, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        main = rows.platform("main")
        vendor = rows.vendor("V1")
        rows.link(vendor, main)
        amounts = [Decimal("1999.5"), Decimal("0.25")] + ([] if backend == "sqlite" else [Decimal("0.0001")])
        for amount in amounts:
            rows.order(vendor, amount)
        values = raw_values(checked_collect(url))
    labels = {"category": "orders", "key": "orders.total_revenue", "platform": "main", "vendor": "V1"}
    revenue = values[("commerce_vendor_orders_total_revenue_eur", frozenset(labels.items()))]
    assert Decimal(revenue) == sum(amounts) / 100
    assert revenue == ("19.9975" if backend == "sqlite" else "19.997501")


# --- codes that are not text columns -------------------------------------------------------


def _small_world(rows: Rows, platform_codes: list[tuple[Any, Any]], vendors: list[tuple[Any, Any]]) -> None:
    """Platforms and vendors with the given (code, name), every vendor on every platform, a few rows each."""
    platforms = [rows.platform(code, name=name) for code, name in platform_codes]
    for n, (code, name) in enumerate(vendors):
        vendor = rows.vendor(code, name=name)
        for platform in platforms:
            rows.link(vendor, platform)
        rows.customer(vendor)
        rows.order(vendor, 1000 + n)
        rows.stock(rows.product(vendor), 3 + n)


def _collect_small(
    backend: str,
    tmp_path: Path,
    relaxed: RelaxedDatabases,
    variant: Variant,
    platform_codes: list[Any],
    vendors: list[Any],
) -> tuple[Exposition, Reference]:
    with relaxed.use(backend, variant, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        _small_world(rows, platform_codes, vendors)
        exposition = checked_collect(url)
        return exposition, _check_against_reference(rows, exposition)


def test_numeric_codes_are_exported_as_their_digits(backend: str, tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """Platform and vendor codes in numeric columns export exactly as the same codes held as text."""
    as_numbers, _ = _collect_small(
        backend,
        tmp_path,
        relaxed,
        INTEGER_CODES,
        [(10, "Ten"), (20, "Twenty")],
        [(1001, "One"), (1002, "Two"), (99, "Ninety-nine")],
    )
    as_text, _ = _collect_small(
        backend,
        tmp_path,
        relaxed,
        NUMERIC,
        [("10", "Ten"), ("20", "Twenty")],
        [("1001", "One"), ("1002", "Two"), ("99", "Ninety-nine")],
    )
    assert business_samples(as_numbers.samples) == business_samples(as_text.samples)
    assert dropped(as_numbers) == {}


def test_binary_codes_count_when_they_are_utf8(backend: str, tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """Binary codes and names that are UTF-8 export as text; a vendor or platform code that is not is left out
    and counted, a name that is not shows the code."""
    binary, reference = _collect_small(
        backend,
        tmp_path,
        relaxed,
        BINARY_CODES,
        [(b"p1", b"Platform one"), (b"p2", b"\xff"), (b"\xfe", b"Bad platform")],
        [(b"V1", "Vé".encode()), ("Vé".encode(), b"\xff\xfe name"), (b"\xff\xfeV3", b"Three")],
    )
    textual, _ = _collect_small(
        backend,
        tmp_path,
        relaxed,
        NUMERIC,
        [("p1", "Platform one"), ("p2", "p2"), ("BADP", "Bad platform")],
        [("V1", "Vé"), ("Vé", "Vé"), ("BAD", "Three")],
    )
    bad_vendor, bad_platform = series_of(vendors=frozenset({"BAD"}), info=True), under_platform("BADP")

    def touches(name: str, labels: Mapping[str, str]) -> bool:
        return bad_vendor(name, labels) or bad_platform(name, labels)

    assert untouched(binary, touches) == untouched(textual, touches)
    assert any(bad_platform(name, dict(labels)) for name, labels in business_samples(textual.samples))
    assert {reason for _, reason in reference.dropped()} == {"missing_code"}


def test_invalid_utf8_in_sqlite_text_is_not_text(tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """SQLite keeps any bytes in a TEXT column: a code that is not UTF-8 is left out and counted, a name that is not
    shows the code, and no provider fails (PostgreSQL and MariaDB refuse such text on insert)."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        world = build_world(rows)
        baseline = checked_collect(url)
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE vendors SET vendor_code = CAST(X'FF41' AS TEXT) WHERE id = :id"), {"id": world.plain["id"]}
            )
            connection.execute(
                text("UPDATE vendors SET name = CAST(X'FE' AS TEXT) WHERE id = :id"), {"id": world.half["id"]}
            )
        # What the exporter reads: the undecodable bytes as lone surrogates.
        world.plain["vendor_code"], world.half["name"] = "\udcffA", "\udcfe"
        exposition = checked_collect(url)
        reference = _check_against_reference(rows, exposition)
    touches = series_of(vendors=frozenset({"ÅSA-Ω", HOSTILE_CODE_2}), keys=None, info=True)
    assert untouched(exposition, touches) == untouched(baseline, touches)
    assert {reason for _, reason in reference.dropped()} == {"missing_code"}


# --- what the operator saw -----------------------------------------------------------------


def _null_name_database(engine: Engine, metadata: Any) -> None:
    rows = Rows(engine, metadata=metadata)
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.update("vendors", vendor, name=None)
    rows.link(vendor, main)
    rows.order(vendor, 1000)


def test_collect_survives_a_vendor_without_name(tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """`commerce-exporter collect` on a database with a NULL vendor name exits 0 and exports the vendor,
    its info series named by its code."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (url, engine, metadata):
        _null_name_database(engine, metadata)
        result = run_cli("collect", env={**os.environ, "COMMERCE_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        'commerce_vendor_info{active="true",merchant="",name="V1",platform="main",vendor="V1",verified="false"} 1'
        in result.stdout
    )
    revenue = 'commerce_vendor_orders_total_revenue_eur{category="orders",key="orders.total_revenue",platform="main",'
    assert f'{revenue}vendor="V1"}} 10.00' in result.stdout


def test_exporter_is_ready_with_a_vendor_without_name(tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """With a NULL vendor name every provider succeeds, so the exporter becomes ready (`/-/ready` 200)."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (url, engine, metadata):
        _null_name_database(engine, metadata)
        exporter = make_exporter(url, clock=FixedClock(NOW))
        try:
            results = exporter.collect_once()
            assert [r.provider for r in results if not r.ok] == []
            assert exporter.ready()
        finally:
            exporter.stop()


def test_a_dirty_reason_is_logged_when_it_appears_not_on_every_run(
    tmp_path: Path, relaxed: RelaxedDatabases, caplog: pytest.LogCaptureFixture
) -> None:
    """A provider logs a dirty-row reason in the first run it occurs in, not again while it lasts, and again
    after a run without it; the counter grows on every run."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        main = rows.platform("main")
        vendor = rows.vendor("V1")
        rows.link(vendor, main)
        dirty = rows.order(vendor, 1000, currency=None)
        exporter = make_exporter(url, clock=FixedClock(NOW))
        exporter.runtime = runtime = exporter.build(exporter.load_config())
        orders = next(p for p in runtime.providers if p.name == "orders")
        runner = runtime.runner

        def run_and_count() -> int:
            caplog.clear()
            with caplog.at_level("WARNING", logger="exporter.values"):
                assert runner.run(orders).ok
            return sum("value dropped (currency)" in record.getMessage() for record in caplog.records)

        try:
            assert [run_and_count() for _ in range(3)] == [1, 0, 0]
            rows.update("orders", dirty, currency="EUR")
            assert run_and_count() == 0
            rows.update("orders", dirty, currency="")
            assert run_and_count() == 1
            counted = exporter.metrics.registry.get_sample_value(
                "commerce_exporter_values_dropped_total", {"provider": "orders", "reason": "currency"}
            )
            assert counted == 4 * 2  # four dirty runs, each: the vendor's value and the platform's
        finally:
            exporter.stop()


class _Counting:
    """A third-party provider that reports rows it left out, once well and once malformed."""

    metrics_category = "counting"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[Any]:
        return []

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[Any]:
        return []

    def get_vendor_metrics_bulk(self, db: Any, vendor_ids: Any, context: Any) -> dict[int, list[Any]]:
        value = MetricValue("counting.rows", 5, "Rows", "counting")
        return {v: [value, Dropped("counting.rows", DropReason.AMOUNT, 3)] for v in vendor_ids}

    def get_platform_metrics_bulk(self, db: Any, platform_ids: Any, context: Any) -> dict[int, list[Any]]:
        return {p: [Dropped("counting.rows", "amount", 1)] for p in platform_ids}  # type: ignore[arg-type]


def test_dropped_records_of_a_third_party_provider_are_counted(tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """`Dropped` records are counted under their reason and never exported; one whose reason is not a
    `DropReason` is malformed output."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (url, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        main = rows.platform("main")
        for code in ("V1", "V2"):
            rows.link(rows.vendor(code), main)
        exposition = collect(url, clock=FixedClock(NOW), candidates=[Candidate("counting", "test", lambda: _Counting)])
    (result,) = exposition.results
    assert (result.ok, result.reason) == (False, "invalid")
    assert exposition.value("commerce_exporter_values_dropped_total", provider="counting", reason="amount") == 2 * 3
    assert exposition.value("commerce_exporter_values_dropped_total", provider="counting", reason="invalid") == 1
    labels = {"category": "counting", "key": "counting.rows", "platform": "main"}
    assert exposition.value("commerce_vendor_counting_rows", **labels, vendor="V1") == 5
    assert not [name for name in exposition.names() if name.startswith("commerce_platform_counting")]


def test_seed_protocol_returns_metric_values_only(tmp_path: Path, relaxed: RelaxedDatabases) -> None:
    """Called per vendor and per platform, a built-in provider returns `MetricValue`s only, dirty rows or not."""
    with relaxed.use("sqlite", NUMERIC, tmp_path) as (_, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        vendor = rows.vendor("V1")
        rows.order(vendor, 1000, currency=None)
        rows.order(vendor, 1000)
        with Session(engine) as db:
            values = OrdersMetricsProvider().get_vendor_metrics(db, vendor["id"])
            bulk = OrdersMetricsProvider().get_vendor_metrics_bulk(db, [vendor["id"]], default_context(NOW))
    assert values and all(type(v) is MetricValue for v in values)
    assert Dropped("orders.total_revenue", DropReason.CURRENCY, 1) in bulk[vendor["id"]]


def test_the_alerts_split_the_reasons_the_way_the_code_does() -> None:
    """CommerceExporterDirtyRows selects exactly the dirty-row reasons; CommerceExporterValuesDropped leaves
    out exactly those and `not_allowed`, so every reason raises one of the two or is on purpose."""
    rules = Path(__file__).resolve().parents[2] / "config" / "prometheus" / "rules" / "commerce-exporter.rules.yml"
    alerts = {
        rule["alert"]: rule["expr"]
        for group in yaml.safe_load(rules.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    (dirty,) = re.findall(r'reason=~"([^"]+)"', alerts["CommerceExporterDirtyRows"])
    (other,) = re.findall(r'reason!~"([^"]+)"', alerts["CommerceExporterValuesDropped"])
    assert set(dirty.split("|")) == {reason.value for reason in DATA_REASONS}
    assert set(other.split("|")) == {reason.value for reason in DATA_REASONS} | {"not_allowed"}


# --- the rules as functions ----------------------------------------------------------------


@given(st.text(max_size=12), st.text(alphabet=" \t\n", max_size=3), st.text(alphabet=" \t\n", max_size=3))
def test_label_text_trims_and_keeps_only_text(core: str, left: str, right: str) -> None:
    """A code reads the same with spaces around it; blank and non-Unicode text is not a label."""
    found = label_text(left + core + right)
    stripped = core.strip()
    if not stripped or any(0xD800 <= ord(c) <= 0xDFFF for c in stripped):
        assert found is None
    else:
        assert found == stripped == label_text(stripped)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (None, None),
        (42, "42"),
        (True, None),
        (Decimal("1001"), "1001"),
        (Decimal("10.5"), None),
        (1.0, None),
        (b"V1", "V1"),
        ("Vé".encode(), "Vé"),
        (b"\xff", None),
        (memoryview(b" V2 "), "V2"),
        ("\udcff", None),
    ],
)
def test_label_text_of_values_that_are_not_str(raw: object, label: str | None) -> None:
    """Integers and UTF-8 bytes are labels; booleans, fractions, floats and undecodable bytes are not."""
    assert label_text(raw) == label


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        *[("EUR", "EUR"), ("eur", "EUR"), (" Eur ", "EUR"), ("usd\n", "USD")],
        *[(None, None), ("", None), ("  ", None), ("EURO", None), ("€", None), ("E1R", None), ("ÉUR", None)],
        *[(b"EUR", None), (978, None)],
    ],
)
def test_currency_codes(raw: object, code: str | None) -> None:
    """Three ASCII letters in any case, with spaces around, are a currency; anything else is not."""
    assert currency_code(raw) == code


@pytest.mark.parametrize("where", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_every_call_path_leaves_out_nan_and_infinite_totals(
    where: str, tmp_path: Path, relaxed: RelaxedDatabases
) -> None:
    """The per-vendor/per-platform calls and the separate bulk calls refetch groups a NaN or infinite total
    spoiled, like the combined call (SQLite keeps infinities, PostgreSQL NaN too; MariaDB stores neither)."""
    with relaxed.use(where, FLOAT, tmp_path) as (_, engine, metadata):
        rows = Rows(engine, metadata=metadata)
        main = rows.platform("main")
        vendor = rows.vendor("V1")
        rows.link(vendor, main)
        for amount in (1000, 250, float("inf"), float("nan"), None):
            rows.order(vendor, amount)
        provider, context = OrdersMetricsProvider(), default_context(NOW)
        with Session(engine) as db:
            seed = provider.get_vendor_metrics(db, vendor["id"], context)
            vendors = provider.get_vendor_metrics_bulk(db, [vendor["id"]], context)[vendor["id"]]
            platforms = provider.get_platform_metrics_bulk(db, [main["id"]], context)[main["id"]]
    for values in (seed, vendors, platforms):
        found = {(v.key, v.unit): v.value for v in values if isinstance(v, MetricValue)}
        assert found[("orders.total_revenue", "EUR")] == Decimal("12.50")
        assert found[("orders.average_value", "EUR")] == Decimal("6.25")
        assert found[("orders.total", None)] == 5
    # NaN is NULL in SQLite: one fewer spoiled row there, but the same number left out.
    assert Dropped("orders.total_revenue", DropReason.AMOUNT, 3) in vendors
    assert Dropped("orders.total_revenue", DropReason.AMOUNT, 3) in platforms
