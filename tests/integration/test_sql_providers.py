"""Declared SQL providers: every value equals what plain Python computes from the inserted rows, on every backend.

Two providers are declared as in docs/sql-providers.md: orders per sales channel in the window
(an extra label column, `platform: sum`) and revenue per vendor in money (`scale: "0.01"`,
`platform: max`). The world has a vendor on two platforms, an inactive link, a platform whose
`orders` module is disabled, an inactive platform and a vendor with no active link at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from exporter.contracts import MetricsContext
from exporter.demo import DemoSize, create_demo_database
from exporter.schema import SESSION_INFO_KEY, reference_tables
from exporter.sqlprovider import SqlProvider
from tests.support.builders import NOW, Rows
from tests.support.docs_page import ROOT, blocks
from tests.support.exporting import Exposition, FixedClock, collect, make_config
from tests.support.provider_samples import raw_values

WINDOW = (NOW - timedelta(days=30), NOW)

CHANNELS = {
    "query": (
        "SELECT vendor_id, channel, COUNT(*) AS n\n"
        "FROM orders\n"
        "WHERE created_at BETWEEN :date_from AND :date_to\n"
        "GROUP BY vendor_id, channel\n"
    ),
    "category": "sales",
    "module": "orders",
    "labels": ["channel"],
    "values": [
        {
            "key": "sales.orders",
            "column": "n",
            "label": "Orders by channel",
            "description": "Orders created in the period, per sales channel.",
            "windowed": True,
            "platform": "sum",
        }
    ],
}

REVENUE = {
    "query": "SELECT vendor_id, SUM(total_amount_cents) AS cents FROM orders GROUP BY vendor_id",
    "module": "orders",
    "values": [
        {
            "key": "revenue.gross",
            "column": "cents",
            "scale": "0.01",
            "unit": "EUR",
            "description": "Sum of every order total.",
            "platform": "max",
        }
    ],
}

DECLARED = {"order_channels": {"sql": CHANNELS}, "revenue": {"sql": REVENUE}}


def build(writer: Engine) -> Rows:
    """Platforms main, second, off (orders module disabled), gone (inactive); vendors with every kind of link."""
    rows = Rows(writer)
    main, second, off, gone = (rows.platform(code) for code in ("main", "second", "off", "gone"))
    rows.update("platforms", gone, is_active=False)
    rows.module(off, "orders", False)
    rows.module(main, "orders", True)
    both = rows.vendor("BOTH")  # on main and second
    half = rows.vendor("HALF")  # active on main, inactive link to second
    solo = rows.vendor("SOLO")  # second only
    hidden = rows.vendor("HIDDEN")  # only on the platform whose module is off
    ghost = rows.vendor("GHOST")  # only on the inactive platform: unknown to the directory
    stray = rows.vendor("STRAY")  # no link at all: unknown to the directory
    quiet = rows.vendor("QUIET")  # on main, no orders
    rows.link(both, main)
    rows.link(both, second)
    rows.link(half, main)
    rows.link(half, second, active=False)
    rows.link(solo, second)
    rows.link(hidden, off)
    rows.link(ghost, gone)
    rows.link(quiet, main)
    start, end = WINDOW
    moments = [start, start + timedelta(seconds=1), end - timedelta(days=3), end, start - timedelta(seconds=1)]
    moments.append(end + timedelta(seconds=1))
    amounts = [1999, 5, 123456789012, 100, 7, 250001]
    channels = ["web", "app", "marketplace"]
    for n, vendor in enumerate((both, half, solo, hidden, ghost, stray)):
        for i in range(7 + n):
            rows.order(
                vendor,
                amounts[(i + n) % len(amounts)] + i,
                channel=channels[(i * (n + 1)) % (len(channels) - (n % 2))],
                created_at=moments[(i + 2 * n) % len(moments)],
            )
    return rows


def expected(rows: Rows) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], Decimal], Counter[tuple[str, str]]]:
    """Every sample of both providers, and the rows each one must count as dropped, from the inserted rows."""
    platforms = {p["id"]: p for p in rows.tables["platforms"] if p["is_active"]}
    disabled = {m["platform_id"] for m in rows.tables["platform_modules"] if not m["is_enabled"]}
    vendors = {v["id"]: v["vendor_code"] for v in rows.tables["vendors"]}
    members: dict[int, list[int]] = defaultdict(list)
    for link in rows.tables["vendor_platforms"]:
        if link["is_active"] and link["platform_id"] in platforms:
            members[link["platform_id"]].append(link["vendor_id"])
    known = {v for ids in members.values() for v in ids}
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    cents: dict[int, int] = defaultdict(int)
    for order in rows.tables["orders"]:
        if WINDOW[0] <= order["created_at"] <= WINDOW[1]:
            counts[order["vendor_id"]][order["channel"]] += 1
        cents[order["vendor_id"]] += order["total_amount_cents"]
    samples: dict[tuple[str, frozenset[tuple[str, str]]], Decimal] = {}
    channels_base = {"category": "sales", "key": "sales.orders", "period": "30d"}
    revenue_base = {"category": "revenue", "key": "revenue.gross"}
    for platform_id, platform in platforms.items():
        if platform_id in disabled:
            continue
        code = platform["code"]
        by_channel: dict[str, int] = defaultdict(int)
        revenues = []
        for vendor in members[platform_id]:
            for channel, n in counts[vendor].items():
                labels = {**channels_base, "platform": code, "vendor": vendors[vendor], "channel": channel}
                samples[("commerce_vendor_sales_orders", frozenset(labels.items()))] = Decimal(n)
                by_channel[channel] += n
            if vendor in cents:
                revenue = Decimal(cents[vendor]) / 100
                labels = {**revenue_base, "platform": code, "vendor": vendors[vendor]}
                samples[("commerce_vendor_revenue_gross_eur", frozenset(labels.items()))] = revenue
                revenues.append(revenue)
        for channel, n in by_channel.items():
            labels = {**channels_base, "platform": code, "channel": channel}
            samples[("commerce_platform_sales_orders", frozenset(labels.items()))] = Decimal(n)
        if revenues:
            labels = {**revenue_base, "platform": code}
            samples[("commerce_platform_revenue_gross_eur", frozenset(labels.items()))] = max(revenues)
    dropped: Counter[tuple[str, str]] = Counter()
    for vendor in vendors:
        if vendor not in known:
            dropped[("order_channels", "unknown_vendor")] += len(counts[vendor])
            dropped[("revenue", "unknown_vendor")] += 1 if vendor in cents else 0
    return samples, +dropped


def exported(exposition: Exposition) -> dict[tuple[str, frozenset[tuple[str, str]]], Decimal]:
    """The samples of both providers' families, as exact decimals of the text written."""
    names = {
        "commerce_vendor_sales_orders",
        "commerce_platform_sales_orders",
        "commerce_vendor_revenue_gross_eur",
        "commerce_platform_revenue_gross_eur",
    }
    return {key: Decimal(raw) for key, raw in raw_values(exposition).items() if key[0] in names}


def dropped_counts(exposition: Exposition) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for (name, labels), value in exposition.samples.items():
        label = dict(labels)
        if name == "commerce_exporter_values_dropped_total" and label["provider"] in DECLARED and value:
            found[(label["provider"], label["reason"])] = int(value)
    return found


def test_declared_values_equal_plain_python_for_both_scopes(writer: Engine, database_url: str) -> None:
    """Vendor and platform values of both providers, exact; a vendor on two platforms, inactive link, module off."""
    rows = build(writer)
    exposition = collect(database_url, clock=FixedClock(NOW), providers=DECLARED)
    assert all(result.ok for result in exposition.results), exposition.results
    want, drops = expected(rows)
    got = exported(exposition)
    assert got == want
    # The cases the world is built for are really there.
    assert any(dict(k[1]).get("vendor") == "BOTH" and dict(k[1])["platform"] == "second" for k in want)
    assert not any(dict(k[1]).get("vendor") == "HALF" and dict(k[1])["platform"] == "second" for k in want)
    assert not any(dict(k[1])["platform"] in ("off", "gone") for k in got)
    assert len({dict(k[1]).get("channel") for k in want} - {None}) == 3
    assert dropped_counts(exposition) == drops
    assert drops  # the unknown vendors' rows are there to be counted


def test_a_built_in_with_the_same_module_is_switched_alike(writer: Engine, database_url: str) -> None:
    """`module: orders` follows the platform_modules row the built-in orders provider follows."""
    build(writer)
    exposition = collect(database_url, clock=FixedClock(NOW), providers=DECLARED)
    platforms_of = defaultdict(set)
    for (name, labels), _ in exposition.samples.items():
        label = dict(labels)
        if label.get("category") in ("orders", "sales", "revenue") and name.startswith("commerce_platform_"):
            platforms_of[label["category"]].add(label["platform"])
    assert platforms_of["sales"] == platforms_of["orders"] == platforms_of["revenue"] == {"main", "second"}


def _shard(database_url: str, shard: str, **sections: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], Decimal]:
    exposition = collect(
        database_url, clock=FixedClock(NOW), providers=DECLARED, collection={"shard": shard}, **sections
    )
    return exported(exposition)


def test_shards_split_the_vendors_and_shard_zero_keeps_the_platforms(writer: Engine, database_url: str) -> None:
    """Shard i/3 exports the i-th of three vendor-id ranges of equal vendor count; platform values only on shard 0."""
    rows = build(writer)
    want, _ = expected(rows)
    active = {p["id"] for p in rows.tables["platforms"] if p["is_active"]}
    listed = sorted(
        {
            link["vendor_id"]
            for link in rows.tables["vendor_platforms"]
            if link["is_active"] and link["platform_id"] in active
        }
    )
    cuts = [listed[len(listed) * k // 3] for k in (1, 2)]  # equal vendor counts (too few ids to round the cuts)
    code_of = {v["id"]: v["vendor_code"] for v in rows.tables["vendors"]}
    shard_of = {code_of[v]: sum(cut <= v for cut in cuts) for v in listed}
    shards = []
    for index in range(3):
        got = _shard(database_url, f"{index}/3")
        shards.append(got)
        mine = {
            k: v
            for k, v in want.items()
            if ("vendor_" in k[0] and shard_of[dict(k[1])["vendor"]] == index) or ("platform_" in k[0] and index == 0)
        }
        assert got == mine
    assert sum(any("vendor_" in k[0] for k in got) for got in shards) >= 2  # the vendors are spread over shards


def test_vendor_series_off_and_a_key_allowlist_apply(writer: Engine, database_url: str) -> None:
    """`exposition.vendor_series: false` keeps the platform values; `keys` keeps only the listed key."""
    rows = build(writer)
    want, _ = expected(rows)
    providers = {**DECLARED, "revenue": {**DECLARED["revenue"], "keys": ["revenue.other"]}}
    exposition = collect(database_url, clock=FixedClock(NOW), providers=providers, exposition={"vendor_series": False})
    assert exported(exposition) == {k: v for k, v in want.items() if k[0] == "commerce_platform_sales_orders"}
    dropped = exposition.value("commerce_exporter_values_dropped_total", provider="revenue", reason="not_allowed")
    assert dropped == 2  # main and second: one platform value each


def test_platform_none_exports_the_vendor_scope_only(writer: Engine, database_url: str) -> None:
    """`platform: none`: vendor series as before, no platform family."""
    rows = build(writer)
    want, _ = expected(rows)
    revenue = {"sql": {**REVENUE, "values": [{**REVENUE["values"][0], "platform": "none"}]}}  # type: ignore[dict-item]
    exposition = collect(database_url, clock=FixedClock(NOW), providers={"revenue": revenue})
    assert exported(exposition) == {k: v for k, v in want.items() if k[0] == "commerce_vendor_revenue_gross_eur"}


def test_the_provider_protocol_outside_a_run_gives_the_same_values(writer: Engine, database_url: str) -> None:
    """`get_vendor_metrics` / `get_platform_metrics` (callers outside the exporter) read the links themselves."""
    rows = build(writer)
    want, _ = expected(rows)
    config = make_config(database_url, providers={"revenue": {"sql": REVENUE}})
    spec = config.providers["revenue"].sql
    assert spec is not None
    provider = SqlProvider("revenue", spec)
    context = MetricsContext(date_from=WINDOW[0], date_to=WINDOW[1], period="30d")
    codes = {v["vendor_code"]: v["id"] for v in rows.tables["vendors"]}
    platforms = {p["code"]: p["id"] for p in rows.tables["platforms"]}
    engine = create_engine(database_url)
    try:
        with Session(engine, info={SESSION_INFO_KEY: reference_tables()}) as db:
            both = provider.get_vendor_metrics(db, codes["BOTH"], context)
            second = provider.get_platform_metrics(db, platforms["second"], context)
    finally:
        engine.dispose()
    labels = {"category": "revenue", "key": "revenue.gross", "platform": "second"}
    assert [v.value for v in both] == [
        want[("commerce_vendor_revenue_gross_eur", frozenset({**labels, "vendor": "BOTH"}.items()))]
    ]
    assert [v.value for v in second] == [want[("commerce_platform_revenue_gross_eur", frozenset(labels.items()))]]
    assert provider.metric_keys == ["revenue.gross"] and provider.metrics_category == "revenue"


def test_the_recipes_run_on_a_demo_database(database_url: str) -> None:
    """Every recipe succeeds on demo data (every backend) and exports the families the page shows, with its labels."""
    engine = create_engine(database_url)
    try:
        create_demo_database(engine, DemoSize(), anchor=datetime(2026, 6, 15), replace=True)
    finally:
        engine.dispose()
    providers = yaml.safe_load((ROOT / "examples" / "sql-providers.yml").read_text(encoding="utf-8"))["providers"]
    exposition = collect(database_url, providers=providers)
    results = {r.provider: r for r in exposition.results}
    assert all(results[name].ok for name in providers), results
    shown: dict[str, set[str]] = {}
    for block in (block for block in blocks("docs/sql-providers.md", "") if block.startswith("# HELP")):
        for family in text_string_to_metric_families(block):
            for sample in family.samples:
                shown.setdefault(sample.name, set()).update(sample.labels)
    assert len(shown) == 12
    for name, labels in shown.items():
        series = exposition.series(name)
        assert series, name
        assert {label for key in series for label, _ in key} == labels, name
