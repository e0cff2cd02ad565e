"""`collection.shard: i/n`: replicas split the vendors by contiguous vendor-id ranges; together they export one copy.

Exactness on every backend (the union of the shards is the unsharded exposition, no series twice,
platform values once), the ranges themselves (computed here from the inserted rows), and that a
shard's statements read only its own vendors' rows through an index (by the backend's plan).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from exporter.demo import DemoSize, create_demo_database
from exporter.runs import ProviderRunner
from tests.support.exporting import Exposition, LabelSet, collect, make_exporter
from tests.support.platform_data import VENDOR_CODES, build_platforms

Series = tuple[str, LabelSet]


def _scoped(exposition: Exposition, prefix: str) -> dict[Series, float]:
    return {key: value for key, value in exposition.samples.items() if key[0].startswith(prefix)}


def _vendor(series: Series) -> str:
    return dict(series[1])["vendor"]


@pytest.fixture
def platform_url(database_url: str) -> str:
    build_platforms(database_url)
    return database_url


def _exported_vendor_ids(url: str) -> dict[str, int]:
    """Code → id of every vendor with an active link to an active platform, read back from the rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT v.vendor_code, v.id, vp.is_active, p.is_active FROM vendors v "
                    "JOIN vendor_platforms vp ON vp.vendor_id = v.id JOIN platforms p ON p.id = vp.platform_id"
                )
            ).all()
    finally:
        engine.dispose()
    return {code: vendor_id for code, vendor_id, link, platform in rows if link and platform}


@pytest.mark.parametrize("in_list", ["in-list", "range-only"])
@pytest.mark.parametrize("count", [2, 5])
def test_shards_together_export_every_vendor_series_exactly_once(
    platform_url: str, count: int, in_list: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The union of n shards' vendor series (info included) equals the unsharded run's, with no series twice.

    `range-only` turns the `IN (...)` list off, as above 1,000 vendors: the shard's range alone restricts.
    """
    if in_list == "range-only":
        monkeypatch.setattr("providers._sql.IN_LIST_LIMIT", 0)
    whole = _scoped(collect(platform_url), "commerce_vendor_")
    parts = [
        _scoped(collect(platform_url, collection={"shard": f"{i}/{count}"}), "commerce_vendor_") for i in range(count)
    ]

    occurrences = Counter(series for part in parts for series in part)
    assert [series for series, n in occurrences.items() if n > 1] == []
    merged = {series: value for part in parts for series, value in part.items()}
    assert merged == whole
    assert len(whole) > 0


def test_each_vendor_lives_on_the_shard_whose_id_range_holds_it(platform_url: str) -> None:
    """Shard i exports the vendors between the i-th and (i+1)-th of n equal-count cuts of the sorted vendor ids."""
    count = 3
    ids = _exported_vendor_ids(platform_url)
    ordered = sorted(ids.values())
    assert len(ordered) == len({*ordered}) and len(ordered) < len(VENDOR_CODES) + 1
    cuts = [ordered[len(ordered) * k // count] for k in range(1, count)]  # few ids: no rounding to a grid
    for index in range(count):
        part = _scoped(collect(platform_url, collection={"shard": f"{index}/{count}"}), "commerce_vendor_")
        vendors = {_vendor(series) for series in part if series[0] == "commerce_vendor_info"}
        expected = {code for code, vendor_id in ids.items() if sum(cut <= vendor_id for cut in cuts) == index}
        assert vendors == expected
        assert len(expected) in (len(ordered) // count, len(ordered) // count + 1)


def test_platform_values_and_platform_info_only_on_shard_zero(platform_url: str) -> None:
    """Shard 0 exports exactly the unsharded platform-scope series; every other shard exports none."""
    whole = _scoped(collect(platform_url), "commerce_platform_")
    count = 3
    parts = [
        _scoped(collect(platform_url, collection={"shard": f"{i}/{count}"}), "commerce_platform_") for i in range(count)
    ]

    assert parts[0] == whole
    assert ("commerce_platform_info", frozenset({("platform", "main"), ("name", "Main")})) in parts[0]
    assert parts[1] == {} and parts[2] == {}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_unsharded_config_is_shard_zero_of_one(platform_url: str) -> None:
    """`0/1` (the default) exports everything: the same samples as no shard setting at all."""
    explicit, default = collect(platform_url, collection={"shard": "0/1"}), collect(platform_url)
    for prefix in ("commerce_vendor_", "commerce_platform_"):
        assert _scoped(explicit, prefix) == _scoped(default, prefix)


# --- a vendor-only shard's statements restrict the rows they read ---------------------------------

VENDOR_TABLES = frozenset(
    {
        "customers",
        "orders",
        "products",
        "inventory",
        "media_files",
        "content_pages",
        "marketplace_import_jobs",
        "marketplace_products",
        "vendor_users",
        "vendor_domains",
    }
)
"""Tables whose rows belong to one vendor each (every one has an index that starts with `vendor_id`)."""


@pytest.fixture
def demo_url(database_url: str) -> str:
    """Demo data: 160 vendors, 16,000 orders, statistics gathered (as a live database has them)."""
    engine = create_engine(database_url)
    try:
        anchor = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        create_demo_database(engine, DemoSize(platforms=3, vendors=160, orders=16_000), anchor=anchor, replace=True)
    finally:
        engine.dispose()
    return database_url


def _provider_statements(url: str, shard: str) -> list[tuple[str, Any]]:
    """The grouped statements every provider's run sends (directory statements left out)."""
    exporter = make_exporter(url, collection={"shard": shard})
    runtime = exporter.runtime = exporter.build(exporter.load_config())
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "GROUP BY" in statement:
            sent.append((statement, parameters))

    runner: ProviderRunner = runtime.runner
    event.listen(Engine, "before_cursor_execute", record)
    try:
        for provider in runtime.providers:
            with runtime.database.session() as db:
                runner.compute(provider, db)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
        exporter.stop()
    assert sent
    return sent


def _unrestricted_reads(url: str, statements: list[tuple[str, Any]]) -> list[str]:
    """Accesses to a vendor table that read it whole (no index condition), per the backend's plan."""
    engine = create_engine(url)
    found: list[str] = []
    try:
        raw: Any = engine.raw_connection()
        try:
            cursor = raw.cursor()
            backend = engine.url.get_backend_name()
            if backend == "postgresql":
                # At test sizes a whole-table read is cheaper whatever the predicate; with sequential
                # scans and hash/merge joins priced out, the plan shows whether an index can restrict
                # every read (an Index Cond: on vendor_id, or on the join key of a restricted side).
                for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                    cursor.execute(f"SET {setting} = off")
            for statement, parameters in statements:
                found += [
                    f"{access} in: {statement[:160]}" for access in _whole(backend, cursor, statement, parameters)
                ]
        finally:
            raw.rollback()
            raw.close()
    finally:
        engine.dispose()
    return found


def _whole(backend: str, cursor: Any, statement: str, parameters: Any) -> Iterator[str]:
    if backend == "postgresql":
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = cursor.fetchone()[0]
        yield from _pg_whole(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"])
    elif backend == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        for row in cursor.fetchall():
            words = str(row[-1]).split()
            if len(words) > 1 and words[0] == "SCAN" and words[1] in VENDOR_TABLES:
                yield str(row[-1])
    else:
        cursor.execute("EXPLAIN " + statement, parameters)
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            entry = dict(zip(columns, row, strict=True))
            if entry["table"] in VENDOR_TABLES and entry["type"] in ("ALL", "index"):
                yield f"{entry['table']}: {entry['type']}"


def _pg_whole(node: dict[str, Any]) -> Iterator[str]:
    relation = node.get("Relation Name")
    if relation in VENDOR_TABLES and not (node.get("Index Cond") or node.get("Recheck Cond")):
        yield f"{node['Node Type']} on {relation}"
    for child in node.get("Plans", ()):
        yield from _pg_whole(child)


def test_a_vendor_only_shard_reads_only_its_vendors_rows_through_an_index(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shard 5/16 (no platform values): every access to a vendor table has an index condition.

    The same check on the unsharded run finds whole-table reads, so it can tell the two apart.
    The `IN (...)` list is off, as it is above 1,000 vendors: the range alone must restrict.
    """
    monkeypatch.setattr("providers._sql.IN_LIST_LIMIT", 0)
    sharded = _provider_statements(demo_url, "5/16")
    assert any("BETWEEN" in statement for statement, _ in sharded)
    assert _unrestricted_reads(demo_url, sharded) == []
    assert _unrestricted_reads(demo_url, _provider_statements(demo_url, "0/1")) != []
