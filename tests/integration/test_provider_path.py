"""One path per run: a per-vendor-only provider and a combined-bulk provider, through the runner, against the rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from exporter.adapter import AdaptedProvider, OwnerValues
from exporter.contracts import MetricsContext, MetricValue
from exporter.discovery import Candidate
from exporter.schema import tables
from tests.support.builders import Rows
from tests.support.exporting import Exposition, collect


def _values(category: str, orders: int, cents: int) -> list[MetricValue]:
    return [
        MetricValue(key=f"{category}.orders", value=orders, label="Orders", category=category),
        MetricValue(key=f"{category}.amount_cents", value=cents, label="Amount", category=category),
    ]


class PerVendorOrders:
    """A third-party provider with the protocol only: one vendor or one platform per call."""

    metrics_category = "pervendor"

    def __init__(self) -> None:
        self.vendors: list[int] = []
        self.platforms: list[int] = []

    def _count(self, db: Session, where: ColumnElement[bool]) -> list[MetricValue]:
        orders = tables(db).orders
        count, cents = db.execute(
            select(func.count(), func.coalesce(func.sum(orders.c.total_amount_cents), 0)).where(where)
        ).one()
        return _values(self.metrics_category, int(count), int(cents))

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> Any:
        self.vendors.append(vendor_id)
        return self._count(db, tables(db).orders.c.vendor_id == vendor_id)

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> Any:
        self.platforms.append(platform_id)
        links = tables(db).vendor_platforms
        members = select(links.c.vendor_id).where(links.c.platform_id == platform_id, links.c.is_active.is_(True))
        return self._count(db, tables(db).orders.c.vendor_id.in_(members))


class CombinedOrders:
    """A provider with the combined bulk call: one grouped statement per scope for the whole run."""

    metrics_category = "combined"

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], list[int]]] = []

    def get_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[OwnerValues, OwnerValues]:
        self.calls.append((sorted(vendor_ids), sorted(platform_ids)))
        t = tables(db)
        orders, links = t.orders, t.vendor_platforms
        amount = func.coalesce(func.sum(orders.c.total_amount_cents), 0)
        per_vendor = {
            row[0]: (int(row[1]), int(row[2]))
            for row in db.execute(
                select(orders.c.vendor_id, func.count(), amount)
                .where(orders.c.vendor_id.in_(sorted(vendor_ids)))
                .group_by(orders.c.vendor_id)
            )
        }
        per_platform = {
            row[0]: (int(row[1]), int(row[2]))
            for row in db.execute(
                select(links.c.platform_id, func.count(), amount)
                .select_from(orders.join(links, links.c.vendor_id == orders.c.vendor_id))
                .where(links.c.is_active.is_(True), links.c.platform_id.in_(sorted(platform_ids)))
                .group_by(links.c.platform_id)
            )
        }
        category = self.metrics_category
        return (
            {v: _values(category, *per_vendor.get(v, (0, 0))) for v in vendor_ids},
            {p: _values(category, *per_platform.get(p, (0, 0))) for p in platform_ids},
        )

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> Any:
        raise AssertionError("the exporter must use get_metrics_bulk")

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> Any:
        raise AssertionError("the exporter must use get_metrics_bulk")


def _world(rows: Rows) -> None:
    """Two active platforms and an inactive one; links active and not; vendors on one, two or no platform."""
    main, second, closed = rows.platform("main"), rows.platform("second"), rows.platform("closed", active=False)
    v1, v2, v3, v4, v5 = (rows.vendor(f"V{i}") for i in range(1, 6))
    rows.link(v1, main)
    rows.link(v2, main)
    rows.link(v2, second)
    rows.link(v3, second)
    rows.link(v3, main, active=False)
    rows.link(v4, closed)  # on an inactive platform only: not exported
    # v5 has no link at all
    for vendor, totals in ((v1, [100, 250]), (v2, [999]), (v3, [40, 60, 1]), (v4, [5000]), (v5, [70])):
        for cents in totals:
            rows.order(vendor, cents)


def _expected(rows: Rows, category: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every series of `category` the rows call for, computed here from the inserted rows alone."""
    platforms = {p["id"]: p for p in rows.tables["platforms"] if p["is_active"]}
    vendors = {v["id"]: v for v in rows.tables["vendors"]}
    members = {
        p: {
            link["vendor_id"]
            for link in rows.tables["vendor_platforms"]
            if link["platform_id"] == p and link["is_active"]
        }
        for p in platforms
    }
    orders_of: dict[int, list[int]] = {v: [] for v in vendors}
    for order in rows.tables["orders"]:
        orders_of[order["vendor_id"]].append(order["total_amount_cents"])
    expected = {}
    for platform_id, platform in platforms.items():
        code = platform["code"]
        in_platform = [cents for v in members[platform_id] for cents in orders_of[v]]
        for key, value in ((f"{category}.orders", len(in_platform)), (f"{category}.amount_cents", sum(in_platform))):
            name = f"commerce_platform_{key.replace('.', '_')}"
            expected[name, frozenset({"category": category, "key": key, "platform": code}.items())] = value
        for vendor_id in members[platform_id]:
            totals = orders_of[vendor_id]
            for key, value in ((f"{category}.orders", len(totals)), (f"{category}.amount_cents", sum(totals))):
                labels = {
                    "category": category,
                    "key": key,
                    "platform": code,
                    "vendor": vendors[vendor_id]["vendor_code"],
                }
                expected[f"commerce_vendor_{key.replace('.', '_')}", frozenset(labels.items())] = value
    return expected


def _exported(exposition: Exposition, category: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (name, labels): value
        for (name, labels), value in exposition.samples.items()
        if dict(labels).get("category") == category and not name.endswith("_info")
    }


def test_per_vendor_and_combined_providers_take_the_one_path(
    writer: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both providers run through one adapted call per run and export exactly what the rows say."""
    rows = Rows(writer)
    _world(rows)
    per_vendor, combined = PerVendorOrders(), CombinedOrders()
    computed: Counter[str] = Counter()
    original = AdaptedProvider.compute

    def counting(self: AdaptedProvider, *args: Any) -> tuple[OwnerValues, OwnerValues]:
        computed[self.category] += 1
        return original(self, *args)

    monkeypatch.setattr(AdaptedProvider, "compute", counting)
    exposition = collect(
        database_url,
        candidates=[
            Candidate("pervendor", "test", lambda: lambda: per_vendor),
            Candidate("combined", "test", lambda: lambda: combined),
        ],
    )
    assert [(r.provider, r.ok) for r in exposition.results] == [("combined", True), ("pervendor", True)]
    assert computed == {"pervendor": 1, "combined": 1}
    for category in ("pervendor", "combined"):
        expected = _expected(rows, category)
        assert len(expected) == 2 * (2 + 4)  # two keys × (two platforms + four vendor-platform pairs)
        assert _exported(exposition, category) == expected
    ids = {row["vendor_code"]: row["id"] for row in rows.tables["vendors"]}
    platform_ids = {row["code"]: row["id"] for row in rows.tables["platforms"]}
    exported_vendors = sorted(ids[code] for code in ("V1", "V2", "V3"))
    exported_platforms = sorted(platform_ids[code] for code in ("main", "second"))
    assert sorted(per_vendor.vendors) == exported_vendors  # each exported vendor asked once, not once per platform
    assert sorted(per_vendor.platforms) == exported_platforms
    assert combined.calls == [(exported_vendors, exported_platforms)]
