"""Cardinality controls: `exposition.vendor_series: false` and the per-provider key allowlist."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from exporter.contracts import MetricsContext, MetricValue
from exporter.discovery import Candidate
from providers.orders import OrdersMetricsProvider
from tests.support.exporting import Exposition, LabelSet, collect
from tests.support.platform_data import build_platforms

Series = tuple[str, LabelSet]


def _scoped(exposition: Exposition, prefix: str) -> dict[Series, float]:
    return {key: value for key, value in exposition.samples.items() if key[0].startswith(prefix)}


def _label(series: Series, name: str) -> str | None:
    return dict(series[1]).get(name)


@pytest.fixture
def platform_url(sqlite_url: str) -> str:
    build_platforms(sqlite_url)
    return sqlite_url


class RecordingOrders(OrdersMetricsProvider):
    """The orders provider, remembering which vendors and platforms it was asked about."""

    asked_vendors: list[int]
    asked_platforms: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.asked_vendors, self.asked_platforms = [], []

    def get_metrics_bulk(
        self, db: Any, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[dict[int, list[MetricValue]], dict[int, list[MetricValue]]]:
        self.asked_vendors += vendor_ids
        self.asked_platforms += platform_ids
        return super().get_metrics_bulk(db, vendor_ids, platform_ids, context)


def test_vendor_series_off_exports_no_vendor_series(platform_url: str) -> None:
    """With vendor series off, no `commerce_vendor_*` family is exported, vendor info included."""
    assert _scoped(collect(platform_url), "commerce_vendor_")
    assert _scoped(collect(platform_url, exposition={"vendor_series": False}), "commerce_vendor_") == {}


def test_vendor_series_off_keeps_every_platform_series(platform_url: str) -> None:
    """Platform values and platform info are exactly those of a run with vendor series on."""
    on = _scoped(collect(platform_url), "commerce_platform_")
    off = _scoped(collect(platform_url, exposition={"vendor_series": False}), "commerce_platform_")
    assert off == on


def test_vendor_series_off_asks_providers_for_no_vendor_values(platform_url: str) -> None:
    """The vendor-scope queries are not run at all, so turning vendor series off also saves their cost."""
    made: list[RecordingOrders] = []

    def factory() -> RecordingOrders:
        made.append(RecordingOrders())
        return made[-1]

    candidates = [Candidate("orders", "test", lambda: factory)]
    collect(platform_url, candidates=candidates, exposition={"vendor_series": False})
    assert made[0].asked_vendors == []
    assert sorted(made[0].asked_platforms) == [1, 2]  # the active platforms; "closed" is inactive


def test_key_allowlist_exports_only_the_listed_keys(platform_url: str) -> None:
    """`providers.orders.keys` limits the orders series of both scopes to the listed keys."""
    listed = ["orders.total", "orders.total_revenue"]
    exposition = collect(platform_url, providers={"orders": {"keys": listed}})
    business = {**_scoped(exposition, "commerce_vendor_"), **_scoped(exposition, "commerce_platform_")}
    keys = {_label(series, "key") for series in business if _label(series, "category") == "orders"}
    assert keys == set(listed)
    scopes = {series[0].split("_")[1] for series in business if _label(series, "category") == "orders"}
    assert scopes == {"vendor", "platform"}


def test_key_allowlist_leaves_other_providers_alone(platform_url: str) -> None:
    """Every series of the providers without an allowlist is the same as without any allowlist."""
    whole = collect(platform_url)
    limited = collect(platform_url, providers={"orders": {"keys": ["orders.total"]}})

    def others(exposition: Exposition) -> dict[Series, float]:
        business = {**_scoped(exposition, "commerce_vendor_"), **_scoped(exposition, "commerce_platform_")}
        return {s: v for s, v in business.items() if _label(s, "category") not in (None, "orders")}

    assert others(limited) == others(whole)
    assert others(whole)


def test_key_allowlist_counts_the_values_left_out(platform_url: str) -> None:
    """Each left-out value is counted once as `not_allowed`: once per vendor (not per platform) and per platform."""
    whole = collect(platform_url)
    limited = collect(platform_url, providers={"orders": {"keys": ["orders.total"]}})
    left_out_vendor_values = {
        (name, _label((name, labels), "vendor"), _label((name, labels), "period"))
        for name, labels in _scoped(whole, "commerce_vendor_")
        if _label((name, labels), "category") == "orders" and _label((name, labels), "key") != "orders.total"
    }
    left_out_platform_values = [
        series
        for series in _scoped(whole, "commerce_platform_")
        if _label(series, "category") == "orders" and _label(series, "key") != "orders.total"
    ]
    dropped = limited.value("commerce_exporter_values_dropped_total", provider="orders", reason="not_allowed")
    assert dropped == len(left_out_vendor_values) + len(left_out_platform_values)
    assert limited.value("commerce_exporter_provider_up", provider="orders") == 1


@pytest.mark.parametrize(
    "sections",
    [{}, {"providers": {"orders": {"keys": ["orders.total", "orders.new"]}}}, {"exposition": {"vendor_series": False}}],
    ids=["default", "allowlist", "vendor-series-off"],
)
def test_provider_series_self_metric_counts_what_is_exported(platform_url: str, sections: dict[str, Any]) -> None:
    """`commerce_exporter_provider_series{provider}` equals the provider's exported series, under every control."""
    exposition = collect(platform_url, **sections)
    business = {**_scoped(exposition, "commerce_vendor_"), **_scoped(exposition, "commerce_platform_")}
    for provider in ("tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace"):
        exported = sum(1 for series in business if _label(series, "category") == provider)
        assert exposition.value("commerce_exporter_provider_series", provider=provider) == exported
