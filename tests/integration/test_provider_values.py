"""Values at their edges, one case per test: NULLs, windows, stock, staging, currencies, big numbers."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine

from tests.support.builders import NOW, Rows
from tests.support.exporting import Exposition, FixedClock, collect
from tests.support.provider_samples import platform_value, vendor_value
from tests.support.reference import FAMILIES, VENDOR


def _one_vendor(writer: Engine, code: str = "V1") -> tuple[Rows, dict[str, Any]]:
    rows = Rows(writer)
    main = rows.platform("main")
    vendor = rows.vendor(code)
    rows.link(vendor, main)
    return rows, vendor


def _both(exposition: Exposition, family: str, key: str, **extra: str) -> tuple[float | None, float | None]:
    """(vendor V1 on main, platform main) values of one family."""
    return (
        vendor_value(exposition, family, key, "main", "V1", **extra),
        platform_value(exposition, family, key, "main", **extra),
    )


def test_vendor_without_rows_exports_zero_for_every_count(writer: Engine, database_url: str) -> None:
    """A vendor with no rows anywhere exports 0 for every count, 0 EUR revenue, and no average or success rate."""
    _one_vendor(writer, "EMPTY")
    exposition = collect(database_url, clock=FixedClock(NOW))
    exported = {
        dict(labels)["key"]: value
        for (name, labels), value in exposition.samples.items()
        if name.startswith("commerce_vendor_") and dict(labels).get("vendor") == "EMPTY" and "key" in dict(labels)
    }
    vendor_keys = {key for key, (_, scopes) in FAMILIES.items() if VENDOR in scopes}
    assert exported.keys() == vendor_keys - {"orders.average_value", "marketplace.import_success_rate"}
    assert set(exported.values()) == {0}
    assert vendor_value(exposition, "orders_total_revenue_eur", "orders.total_revenue", "main", "EMPTY") == 0


def test_nulls_in_nullable_columns_are_still_counted(writer: Engine, database_url: str) -> None:
    """Rows whose every nullable column is NULL count like any other row."""
    rows, vendor = _one_vendor(writer)
    rows.order(vendor, 250)  # customer and every amount but the total are NULL
    rows.product(vendor)  # marketplace product, sku, gtin and price NULL
    rows.staged(vendor)  # import job, gtin, sku, brand, price and currency NULL
    rows.job(vendor, "pending")  # source_url, language, started_at, completed_at NULL
    rows.page(rows.tables["platforms"][0], vendor, published=False)  # published_at NULL
    stock = rows.stock(rows.tables["products"][0], 4)  # updated_at NULL
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "orders", "orders.total") == (1, 1)
    assert _both(exposition, "orders_total_revenue_eur", "orders.total_revenue") == (2.5, 2.5)
    assert _both(exposition, "catalog_products", "catalog.products") == (1, 1)
    assert _both(exposition, "marketplace_staging_products", "marketplace.staging_products") == (1, 1)
    assert _both(exposition, "marketplace_import_jobs_running", "marketplace.import_jobs_running") == (1, 1)
    assert _both(exposition, "cms_pages", "cms.pages") == (1, 1)
    assert _both(exposition, "inventory_units", "inventory.units") == (stock["quantity"], stock["quantity"])


def test_window_includes_both_edges_and_nothing_beyond(writer: Engine, database_url: str) -> None:
    """Rows at now − 30d and at now are new; one second before the start or after now is not."""
    rows, vendor = _one_vendor(writer)
    start, second = NOW - timedelta(days=30), timedelta(seconds=1)
    inside = (start, start + second, NOW - second, NOW)
    outside = (start - second, NOW + second, start - timedelta(days=1))
    for moment in inside + outside:
        rows.customer(vendor, created_at=moment)
        rows.order(vendor, 100, created_at=moment)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "customers_new", "customers.new", period="30d") == (len(inside), len(inside))
    assert _both(exposition, "orders_new", "orders.new", period="30d") == (len(inside), len(inside))
    assert _both(exposition, "orders", "orders.total") == (7, 7)


def test_reserved_above_quantity_makes_a_bin_zero_not_negative(writer: Engine, database_url: str) -> None:
    """A bin with more reserved than on hand adds 0 available units; units and reservations are raw sums."""
    rows, vendor = _one_vendor(writer)
    product = rows.product(vendor)
    rows.stock(product, 3, 8)
    rows.stock(product, 4, 1, warehouse="WH2")
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "inventory_units", "inventory.units") == (7, 7)
    assert _both(exposition, "inventory_units_reserved", "inventory.units_reserved") == (9, 9)
    assert _both(exposition, "inventory_units_available", "inventory.units_available") == (3, 3)
    assert _both(exposition, "inventory_low_stock", "inventory.low_stock") == (1, 1)
    assert _both(exposition, "inventory_out_of_stock", "inventory.out_of_stock") == (0, 0)


def test_active_products_without_stock_rows_are_out_of_stock(writer: Engine, database_url: str) -> None:
    """Active products with no inventory rows or only empty bins are out of stock; inactive ones never are."""
    rows, vendor = _one_vendor(writer)
    rows.product(vendor)  # no rows
    rows.stock(rows.product(vendor), 2, 2)  # nothing available
    rows.product(vendor, active=False)  # no rows, but inactive
    rows.stock(rows.product(vendor), 1)  # available: low, not out
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "inventory_out_of_stock", "inventory.out_of_stock") == (2, 2)
    assert _both(exposition, "catalog_products_active", "catalog.products_active") == (3, 3)


def test_low_stock_threshold_is_inclusive(writer: Engine, database_url: str) -> None:
    """With the default threshold 5, availability 1 and 5 are low, 6 is not, 0 is out of stock instead."""
    rows, vendor = _one_vendor(writer)
    for available in (0, 1, 5, 6):
        rows.stock(rows.product(vendor), available)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "inventory_low_stock", "inventory.low_stock") == (2, 2)
    assert _both(exposition, "inventory_out_of_stock", "inventory.out_of_stock") == (1, 1)


def test_featured_counts_only_active_products(writer: Engine, database_url: str) -> None:
    """An inactive featured product is a product but not a featured one."""
    rows, vendor = _one_vendor(writer)
    rows.product(vendor, featured=True)
    rows.product(vendor, active=False, featured=True)
    rows.product(vendor)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "catalog_products", "catalog.products") == (3, 3)
    assert _both(exposition, "catalog_products_active", "catalog.products_active") == (2, 2)
    assert _both(exposition, "catalog_products_featured", "catalog.products_featured") == (1, 1)


def test_staging_products_are_the_unreferenced_ones(writer: Engine, database_url: str) -> None:
    """A marketplace product referenced by any product, the vendor's own or another's, is not staging."""
    rows, vendor = _one_vendor(writer)
    other = rows.vendor("V2")
    rows.link(other, rows.tables["platforms"][0])
    own, foreign, _free = rows.staged(vendor), rows.staged(vendor), rows.staged(vendor)
    rows.product(vendor, staged=own)
    rows.product(other, staged=foreign)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "marketplace_staging_products", "marketplace.staging_products") == (1, 1)
    assert vendor_value(exposition, "marketplace_staging_products", "marketplace.staging_products", "main", "V2") == 0


def test_import_success_rate_counts_both_completed_statuses(writer: Engine, database_url: str) -> None:
    """completed and completed_with_errors succeed, failed fails, pending and processing are not finished."""
    rows, vendor = _one_vendor(writer)
    for status in ("completed", "completed", "completed_with_errors", "failed", "pending", "processing"):
        rows.job(vendor, status, errors=2 if status in ("failed", "completed_with_errors") else 0)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "marketplace_import_success_rate_ratio", "marketplace.import_success_rate") == (0.75, 0.75)
    assert _both(exposition, "marketplace_import_jobs", "marketplace.import_jobs") == (6, 6)
    assert _both(exposition, "marketplace_import_jobs_failed", "marketplace.import_jobs_failed") == (1, 1)
    assert _both(exposition, "marketplace_import_jobs_running", "marketplace.import_jobs_running") == (2, 2)
    assert _both(exposition, "marketplace_import_errors", "marketplace.import_errors") == (4, 4)


def test_revenue_and_average_are_per_currency(writer: Engine, database_url: str) -> None:
    """EUR and USD orders of one vendor give one revenue and one average per currency; cancelled and refunded
    orders are left out of both."""
    rows, vendor = _one_vendor(writer)
    rows.order(vendor, 1000)
    rows.order(vendor, 2001, status="shipped")
    rows.order(vendor, 1, status="pending")
    rows.order(vendor, 5000, status="cancelled")
    rows.order(vendor, 333, currency="USD", status="processing")
    rows.order(vendor, 9999, currency="USD", status="refunded")
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "orders_total_revenue_eur", "orders.total_revenue") == (30.02, 30.02)
    # 3002 / 3 cents does not terminate: the float nearest the exact quotient, not 10.01.
    average = float(Fraction(3002, 3 * 100))
    assert _both(exposition, "orders_average_value_eur", "orders.average_value") == (average, average)
    assert _both(exposition, "orders_total_revenue_usd", "orders.total_revenue") == (3.33, 3.33)
    assert _both(exposition, "orders_average_value_usd", "orders.average_value") == (3.33, 3.33)
    assert _both(exposition, "orders_pending", "orders.pending") == (2, 2)
    assert _both(exposition, "orders_cancelled", "orders.cancelled") == (1, 1)
    assert _both(exposition, "orders_refunded", "orders.refunded") == (1, 1)


def test_only_excluded_statuses_give_zero_euro_revenue(writer: Engine, database_url: str) -> None:
    """A vendor whose orders are all cancelled or refunded exports 0 EUR revenue and no average."""
    rows, vendor = _one_vendor(writer)
    rows.order(vendor, 700, status="cancelled", currency="USD")
    rows.order(vendor, 800, status="refunded")
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "orders_total_revenue_eur", "orders.total_revenue") == (0, 0)
    assert _both(exposition, "orders_total_revenue_usd", "orders.total_revenue") == (None, None)
    assert _both(exposition, "orders_average_value_eur", "orders.average_value") == (None, None)


def test_revenue_statuses_come_from_the_settings(writer: Engine, database_url: str) -> None:
    """`providers.orders.settings.revenue_statuses: [delivered]` counts delivered orders only."""
    rows, vendor = _one_vendor(writer)
    rows.order(vendor, 1000, status="delivered")
    rows.order(vendor, 50, status="shipped")
    exposition = collect(
        database_url, clock=FixedClock(NOW), providers={"orders": {"settings": {"revenue_statuses": ["delivered"]}}}
    )
    assert _both(exposition, "orders_total_revenue_eur", "orders.total_revenue") == (10, 10)


def test_amounts_beyond_32_bits_are_summed_exactly(writer: Engine, database_url: str) -> None:
    """Order totals, file sizes, stock units and error counts whose sums pass 2**31 and 2**32 are exact."""
    rows, vendor = _one_vendor(writer)
    int32_max = 2**31 - 1
    for cents in (int32_max, int32_max, 2**33 + 7):
        rows.order(vendor, cents)
    rows.media(vendor, 3_000_000_000)
    rows.media(vendor, 2_000_000_000)
    product = rows.product(vendor)
    rows.stock(product, int32_max, int32_max - 5)
    rows.stock(product, int32_max, 0, warehouse="WH2")
    rows.job(vendor, "failed", errors=int32_max)
    rows.job(vendor, "failed", errors=int32_max)
    exposition = collect(database_url, clock=FixedClock(NOW))
    revenue_cents = 2 * int32_max + 2**33 + 7
    assert _both(exposition, "orders_total_revenue_eur", "orders.total_revenue") == (revenue_cents / 100,) * 2
    assert _both(exposition, "cms_media_size_bytes", "cms.media_size") == (5_000_000_000, 5_000_000_000)
    assert _both(exposition, "inventory_units", "inventory.units") == (2 * int32_max, 2 * int32_max)
    assert _both(exposition, "inventory_units_available", "inventory.units_available") == (int32_max + 5,) * 2
    assert _both(exposition, "marketplace_import_errors", "marketplace.import_errors") == (2 * int32_max,) * 2


def test_platform_users_are_distinct_across_vendor_teams(writer: Engine, database_url: str) -> None:
    """A user in two vendor teams of one platform is one user there; inactive memberships count nowhere."""
    rows, vendor = _one_vendor(writer)
    other = rows.vendor("V2")
    rows.link(other, rows.tables["platforms"][0])
    shared, own, former = rows.user(), rows.user(), rows.user()
    rows.member(vendor, shared)
    rows.member(other, shared)
    rows.member(other, own)
    rows.member(vendor, former, active=False)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert platform_value(exposition, "tenancy_users", "tenancy.users", "main") == 2
    assert _both(exposition, "tenancy_team_members", "tenancy.team_members") == (1, 3)


def test_platform_pages_are_its_own_and_its_linked_vendors(writer: Engine, database_url: str) -> None:
    """Platform P counts its own pages and pages of P's active members on P; a vendor counts its pages anywhere."""
    rows, vendor = _one_vendor(writer)
    main = rows.tables["platforms"][0]
    market = rows.platform("market")
    stranger = rows.vendor("V2")
    rows.link(stranger, market)
    rows.link(stranger, main, active=False)
    rows.page(main, None)  # main's own page
    rows.page(main, None, published=False)
    rows.page(main, vendor)  # V1 is in A(main)
    rows.page(market, vendor, published=False)  # V1 is not on market: not a market page
    rows.page(main, stranger)  # V2's link to main is inactive: not a main page
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "cms_pages", "cms.pages") == (2, 3)
    assert _both(exposition, "cms_pages_published", "cms.pages_published") == (1, 2)
    assert platform_value(exposition, "cms_pages", "cms.pages", "market") == 0


def test_domains_count_active_ones_and_their_verified_share(writer: Engine, database_url: str) -> None:
    """Inactive domains are left out of both domain counts."""
    rows, vendor = _one_vendor(writer)
    rows.domain(vendor, "a.example", verified=True)
    rows.domain(vendor, "b.example")
    rows.domain(vendor, "c.example", verified=True, active=False)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert _both(exposition, "tenancy_domains", "tenancy.domains") == (2, 2)
    assert _both(exposition, "tenancy_domains_verified", "tenancy.domains_verified") == (1, 1)
