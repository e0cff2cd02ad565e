"""Declared SQL providers at run time and in check-schema, on every backend.

check-schema prepares each query and names what is missing; rows that cannot be used are dropped
and counted, never fail the run; a failing declared provider leaves every other series as it was;
one statement per run whatever the number of vendors.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from exporter.app import Exporter
from exporter.config import parse_config
from exporter.errors import FailureReason
from exporter.selfmetrics import SelfMetrics
from tests.support.builders import NOW, Rows, populate
from tests.support.exporting import Exposition, FixedClock, collect, make_exporter
from tests.support.processes import run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}

CHANNELS = {
    "category": "sales",
    "query": "SELECT vendor_id, channel, COUNT(*) AS n FROM orders GROUP BY vendor_id, channel",
    "labels": ["channel"],
    "values": [{"key": "sales.orders", "column": "n"}],
}


def sql(query: str, *, labels: tuple[str, ...] = (), column: str = "n", **value: Any) -> dict[str, Any]:
    """A declaration with one value column."""
    return {
        "sql": {
            "category": "extra",
            "query": query,
            "labels": list(labels),
            "values": [{"key": "extra.value", "column": column, **value}],
        }
    }


# --- check-schema -----------------------------------------------------------------------------


def test_check_schema_prepares_each_query_and_names_what_is_missing(
    writer: Engine, database_url: str, write_config: Callable[..., Path]
) -> None:
    """A refused query, a missing vendor_id, a missing value and label column: each named with its fix."""
    providers = {
        "broken": sql("SELECT vendor_id, COUNT(*) AS n FROM order_lines GROUP BY vendor_id"),
        "good": {"sql": CHANNELS},
        "nocolumns": sql(
            "SELECT vendor_id, COUNT(*) AS total FROM orders GROUP BY vendor_id", labels=("channel",), column="n"
        ),
        "novendor": sql("SELECT vendor_id AS shop_id, COUNT(*) AS n FROM orders GROUP BY vendor_id"),
    }
    path = write_config({"database": {"url": database_url}, "providers": providers})
    result = run_cli("check-schema", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    sections = {block.split(":", 1)[0]: block for block in out.split("\n\n") if block.startswith("provider ")}
    assert "REFUSED" in sections["provider broken"]
    assert "order_lines" in sections["provider broken"]
    assert "fix: providers.broken.sql.query:" in sections["provider broken"]
    assert "provider good: OK" in sections["provider good"]
    assert "prepared; returns vendor_id, channel, n" in sections["provider good"]  # after the refused one (PostgreSQL)
    nocolumns = sections["provider nocolumns"]
    assert "the query returns no column channel" in nocolumns
    assert "fix: providers.nocolumns.sql.labels[0]:" in nocolumns
    assert "the query returns no column n" in nocolumns
    assert "fix: providers.nocolumns.sql.values[0].column:" in nocolumns
    novendor = sections["provider novendor"]
    assert "the query returns no column vendor_id (it returns shop_id, n)" in novendor
    assert "fix: providers.novendor.sql.query: SELECT <your vendor id column> AS vendor_id" in novendor
    assert "Cannot run: broken, nocolumns, novendor." in out


def test_a_missing_column_at_run_time_fails_with_reason_schema(writer: Engine, database_url: str) -> None:
    """The run that finds no vendor_id in the result fails with reason schema; the other providers run."""
    rows = Rows(writer)
    rows.link(rows.vendor("V1"), rows.platform("main"))
    providers = {"novendor": sql("SELECT vendor_id AS shop_id, COUNT(*) AS n FROM orders GROUP BY vendor_id")}
    exposition = collect(database_url, clock=FixedClock(NOW), providers=providers)
    results = {r.provider: r for r in exposition.results}
    assert results["novendor"].reason is FailureReason.SCHEMA
    assert "vendor_id" in (results["novendor"].error or "")
    assert results["orders"].ok


# --- dropped rows -----------------------------------------------------------------------------


@pytest.fixture
def reviews(writer: Engine) -> Iterator[Engine]:
    """A table of the platform's own that the reference schema does not know (dropped afterwards)."""
    with writer.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS sqlprov_reviews"))
        connection.execute(
            text(
                "CREATE TABLE sqlprov_reviews (vendor_id INTEGER NULL, source VARCHAR(20) NULL, stars VARCHAR(20) NULL)"
            )
        )
    yield writer
    with writer.begin() as connection:
        connection.execute(text("DROP TABLE sqlprov_reviews"))


def test_unusable_rows_are_dropped_and_counted_never_failing_the_run(reviews: Engine, database_url: str) -> None:
    """NULL or unknown vendor, NULL or non-numeric value, a repeated row: counted by reason; the rest exported."""
    rows = Rows(reviews)
    main = rows.platform("main")
    v1, v2 = rows.vendor("V1"), rows.vendor("V2")
    rows.link(v1, main)
    rows.link(v2, main)
    unlinked = rows.vendor("LOOSE")
    stored = [
        (v1["id"], "shop", "4"),
        (v1["id"], "app", "4.5"),
        (v2["id"], "shop", "2"),
        (v2["id"], "app", None),  # NULL value
        (v2["id"], "mail", "n/a"),  # not a number
        (v2["id"], "fax", "NaN"),  # not a number either
        (v1["id"], "shop", "5"),  # same vendor and label again
        (None, "shop", "3"),  # NULL vendor
        (unlinked["id"], "shop", "1"),  # a vendor without an active link
        (987654, "shop", "1"),  # no such vendor
    ]
    with reviews.begin() as connection:
        connection.execute(
            text("INSERT INTO sqlprov_reviews (vendor_id, source, stars) VALUES (:v, :s, :n)"),
            [{"v": v, "s": s, "n": n} for v, s, n in stored],
        )
    providers = {
        "reviews": sql("SELECT vendor_id, source, stars AS n FROM sqlprov_reviews", labels=("source",), platform="sum")
    }
    exposition = collect(database_url, clock=FixedClock(NOW), providers=providers)
    result = {r.provider: r for r in exposition.results}["reviews"]
    assert result.ok, result
    counted = {reason: int(value) for reason, value in _dropped(exposition, "reviews").items()}
    assert counted == {"unknown_vendor": 3, "not_numeric": 3, "duplicate": 1}
    assert dict(result.dropped) == {"unknown_vendor": 3, "not_numeric": 3, "duplicate": 1}
    vendor = exposition.series("commerce_vendor_extra_value")
    assert {(dict(k)["vendor"], dict(k)["source"]): v for k, v in vendor.items()} == {
        ("V1", "shop"): 4,
        ("V1", "app"): 4.5,
        ("V2", "shop"): 2,
    }
    platform = exposition.series("commerce_platform_extra_value")
    assert {dict(k)["source"]: v for k, v in platform.items()} == {"shop": 6, "app": 4.5}


def _dropped(exposition: Exposition, provider: str) -> dict[str, float]:
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in exposition.samples.items()
        if name == "commerce_exporter_values_dropped_total" and dict(labels)["provider"] == provider and value
    }


# --- failure isolation ------------------------------------------------------------------------

SLOW = {
    "postgresql": "SELECT 1 AS vendor_id, COUNT(*) AS n FROM (SELECT pg_sleep(60)) AS s",
    "mariadb": "SELECT 1 AS vendor_id, SLEEP(60) AS n",
    "sqlite": (
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 1000000000) "
        "SELECT 1 AS vendor_id, COUNT(*) AS n FROM r"
    ),
}
"""A query per backend that runs far longer than the statement timeout unless the timeout stops it."""


def _others(exposition: Exposition, own: set[str]) -> dict[Any, float]:
    """Every sample except the self-metrics and the declared providers' own families."""
    return {
        key: value
        for key, value in exposition.samples.items()
        if not key[0].startswith(("commerce_exporter_", "process_", "python_"))
        and dict(key[1]).get("category") not in own
    }


def test_a_failing_declared_provider_touches_no_other_series(writer: Engine, database_url: str, backend: str) -> None:
    """Bad SQL (error) and a query cut by the statement timeout (timeout): the other providers' series are unchanged."""
    rows = Rows(writer)
    main = rows.platform("main")
    for code in ("V1", "V2"):
        vendor = rows.vendor(code)
        rows.link(vendor, main)
        rows.order(vendor, 1234, channel="app", created_at=NOW)
    database = {"url": database_url, "statement_timeout": "1s"}
    baseline = collect(
        database_url, clock=FixedClock(NOW), database=database, providers={"channels": {"sql": CHANNELS}}
    )
    providers = {
        "channels": {"sql": CHANNELS},
        "badsql": sql("SELECT vendor_id, COUNT(*) AS n FROM orders GROUP BY"),
        "slow": sql(SLOW[backend]),
    }
    exposition = collect(database_url, clock=FixedClock(NOW), database=database, providers=providers)
    results = {r.provider: r for r in exposition.results}
    assert results["badsql"].reason is FailureReason.ERROR
    assert results["slow"].reason is FailureReason.TIMEOUT
    assert all(r.ok for name, r in results.items() if name not in ("badsql", "slow"))
    assert _others(exposition, {"extra"}) == _others(baseline, {"extra"})
    assert exposition.series("commerce_vendor_sales_orders")  # the declared provider beside them still exports
    for name in ("badsql", "slow"):
        assert exposition.value("commerce_exporter_provider_up", provider=name) == 0
        assert exposition.value("commerce_exporter_provider_up", provider="channels") == 1


# --- statements -------------------------------------------------------------------------------


def _statements(url: str, providers: dict[str, Any]) -> Counter[str]:
    """Statements each declared provider sends on its second run (the first also reflects tables)."""
    exporter = make_exporter(url, providers=providers)
    runtime = exporter.build(exporter.load_config())
    declared = [p for p in runtime.providers if p.name in providers]
    counts: Counter[str] = Counter()
    current = {"provider": ""}
    try:
        for provider in declared:
            assert runtime.runner.run(provider).ok
        event.listen(runtime.database.engine, "before_cursor_execute", lambda *_: counts.update([current["provider"]]))
        for provider in declared:
            current["provider"] = provider.name
            assert runtime.runner.run(provider).ok
    finally:
        runtime.database.dispose()
    return counts


def test_one_statement_per_run_whatever_the_number_of_vendors(tmp_path: Path) -> None:
    """10 and 1,500 vendors: the directory's 3 statements once per round, and one statement per declared provider."""
    from exporter.schema import reference_tables

    providers = {
        "channels": {"sql": CHANNELS},
        "revenue": sql(
            "SELECT vendor_id, SUM(total_amount_cents) AS n FROM orders GROUP BY vendor_id",
            scale="0.01",
            unit="EUR",
            platform="max",
        ),
    }
    counts = []
    for n in (10, 1_500):
        url = f"sqlite:///{tmp_path / f'v{n}.sqlite'}"
        engine = create_engine(url)
        reference_tables().metadata.create_all(engine)
        populate(engine, n)
        engine.dispose()
        counts.append(_statements(url, providers))
    # The directory's 3 statements once per round (the round's first run), then one statement per provider.
    assert counts[0] == counts[1] == {"channels": 3 + 1, "revenue": 1}


# --- reload -----------------------------------------------------------------------------------


def test_a_reload_applies_a_changed_declaration_and_refuses_a_broken_one(writer: Engine, database_url: str) -> None:
    """A new query and key take effect on reload; a declaration check-config refuses keeps the running one."""
    rows = Rows(writer)
    vendor = rows.vendor("V1")
    rows.link(vendor, rows.platform("main"))
    rows.order(vendor, 100, channel="web")
    rows.order(vendor, 300, channel="app")
    current = {"providers": {"channels": {"sql": CHANNELS}}}
    exporter = Exporter(
        lambda: parse_config({"database": {"url": database_url}, **current}, env={}),
        clock=FixedClock(NOW),
        metrics=SelfMetrics(process=False),
    )
    try:
        exporter.collect_once()
        before = Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())
        assert len(before.series("commerce_vendor_sales_orders")) == 2
        revenue = sql("SELECT vendor_id, SUM(total_amount_cents) AS n FROM orders GROUP BY vendor_id", unit="EUR")
        current["providers"] = {"channels": revenue}
        assert exporter.reload().ok
        exporter.collect_once()
        after = Exposition.parse(b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode())
        assert not after.series("commerce_vendor_sales_orders")
        assert list(after.series("commerce_vendor_extra_value_eur").values()) == [400]
        current["providers"] = {"channels": sql("SELECT vendor_id, 1 AS n FROM orders", scale="a lot")}
        refused = exporter.reload()
        assert not refused.ok
        assert refused.reason.splitlines() == [
            """providers.channels.sql.values[0].scale: expected a decimal number like "0.01" or "1000", got 'a lot'"""
        ]
    finally:
        exporter.stop()


# --- shards -----------------------------------------------------------------------------------


def _declared_reads(url: str, shard: str, providers: dict[str, Any]) -> list[tuple[str, Any]]:
    """(statement, parameters) of each statement the declared provider `extra` sends in one run of `shard`."""
    exporter = make_exporter(url, providers=providers, collection={"shard": shard})
    runtime = exporter.build(exporter.load_config())
    declared = next(p for p in runtime.providers if p.name == "extra")
    sent: list[tuple[str, Any]] = []
    try:
        assert runtime.runner.run(declared).ok  # the directory and the table reflection happen here
        event.listen(
            runtime.database.engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, parameters, *_: sent.append((statement, parameters)),
        )
        assert runtime.runner.run(declared).ok
    finally:
        runtime.database.dispose()
    return sent


@pytest.mark.parametrize("platform", ["sum", "none"])
def test_a_vendor_only_shard_reads_only_its_own_vendors_rows(writer: Engine, database_url: str, platform: str) -> None:
    """Shard 1/2 sends the query bounded to its vendor ids and gets only those rows back; shard 0/2 reads
    every row when it rolls platform values up (`sum`), and only its own when there are none (`none`)."""
    rows = Rows(writer)
    main = rows.platform("main")
    vendors = [rows.vendor(f"V{n:02}") for n in range(8)]
    for n, vendor in enumerate(vendors):
        rows.link(vendor, main)
        for _ in range(n + 1):
            rows.order(vendor, 100)
    providers = {"extra": sql("SELECT vendor_id, COUNT(*) AS n FROM orders GROUP BY vendor_id", platform=platform)}
    ids = sorted(v["id"] for v in vendors)
    cut = ids[len(ids) // 2]  # two ranges of equal vendor count (too few ids for the rounded cuts)
    engine = create_engine(database_url)
    try:
        for shard, mine in (("1/2", [v for v in ids if v >= cut]), ("0/2", [v for v in ids if v < cut])):
            sent = _declared_reads(database_url, shard, providers)
            (statement, parameters), *others = [s for s in sent if "COUNT(*) AS n FROM orders" in s[0]]
            assert not others  # one statement per run
            bounded = shard == "1/2" or platform == "none"
            assert ("WHERE q.vendor_id" in statement) == bounded, statement
            # What that statement reads, run again with the same parameters on another connection.
            with engine.connect() as connection:
                raw = connection.exec_driver_sql(statement, parameters)
                read = sorted(row[0] for row in raw)
            assert read == (mine if bounded else ids)
    finally:
        engine.dispose()
