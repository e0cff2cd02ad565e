"""Who is exported where: active members, inactive links and platforms, module enablement, hostile labels."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.support.builders import NOW, Rows
from tests.support.exporting import FixedClock, collect
from tests.support.provider_samples import PLAIN_VENDOR, categories, info_value, owners, platform_value, vendor_value


def test_vendor_on_two_platforms_is_exported_under_both(writer: Engine, database_url: str) -> None:
    """A vendor actively linked to two platforms has the same vendor values under each, and counts on each."""
    rows = Rows(writer)
    main, market = rows.platform("main"), rows.platform("market")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.link(vendor, market)
    for cents in (100, 200, 300):
        rows.order(vendor, cents)
    exposition = collect(database_url, clock=FixedClock(NOW))
    for platform in ("main", "market"):
        assert vendor_value(exposition, "orders", "orders.total", platform, "V1") == len(rows.tables["orders"])
        assert platform_value(exposition, "orders", "orders.total", platform) == 3
        assert platform_value(exposition, "tenancy_vendors", "tenancy.vendors", platform) == 1
        assert (
            info_value(
                exposition,
                "commerce_vendor_info",
                dict(platform=platform, vendor="V1", name="Vendor V1", **PLAIN_VENDOR),
            )
            == 1
        )


def test_inactive_link_leaves_the_vendor_out_of_that_platform(writer: Engine, database_url: str) -> None:
    """An inactive link exports no vendor series there and keeps the vendor's rows out of that platform's sums."""
    rows = Rows(writer)
    main, market = rows.platform("main"), rows.platform("market")
    linked, unlinked = rows.vendor("IN"), rows.vendor("OUT")
    rows.link(linked, market)
    rows.link(unlinked, main)
    rows.link(unlinked, market, active=False)
    rows.order(linked, 100)
    rows.order(unlinked, 100)
    rows.order(unlinked, 100)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert ("market", "OUT") not in owners(exposition)
    assert ("main", "OUT") in owners(exposition)
    assert platform_value(exposition, "orders", "orders.total", "market") == 1
    assert platform_value(exposition, "tenancy_vendors", "tenancy.vendors", "market") == 1
    assert (
        info_value(
            exposition, "commerce_vendor_info", dict(platform="market", vendor="OUT", name="Vendor OUT", **PLAIN_VENDOR)
        )
        is None
    )


def test_vendor_with_only_inactive_links_is_not_exported(writer: Engine, database_url: str) -> None:
    """A vendor whose only link is inactive has no series and adds nothing to the platform."""
    rows = Rows(writer)
    main = rows.platform("main")
    gone = rows.vendor("GONE")
    rows.link(gone, main, active=False)
    rows.order(gone, 5000)
    rows.customer(gone)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert {vendor for _, vendor in owners(exposition)} == {None}
    assert platform_value(exposition, "orders", "orders.total", "main") == 0
    assert platform_value(exposition, "customers", "customers.total", "main") == 0
    assert platform_value(exposition, "tenancy_vendors", "tenancy.vendors", "main") == 0


def test_inactive_platform_exports_nothing(writer: Engine, database_url: str) -> None:
    """No series, not even info, carries the code of an inactive platform, and its vendors are not exported."""
    rows = Rows(writer)
    main, closed = rows.platform("main"), rows.platform("closed", active=False)
    vendor = rows.vendor("ONLY-CLOSED")
    rows.link(vendor, closed)
    rows.order(vendor, 100)
    rows.page(closed, None)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert owners(exposition) == {("main", None)}
    assert info_value(exposition, "commerce_platform_info", dict(platform="main", name=main["name"])) == 1
    assert all(dict(labels).get("platform") != "closed" for _, labels in exposition.samples)


def test_platform_module_row_disables_an_optional_module(writer: Engine, database_url: str) -> None:
    """`platform_modules.is_enabled = false` for orders removes every orders series of that platform only."""
    rows = Rows(writer)
    main, market = rows.platform("main"), rows.platform("market")
    rows.module(market, "orders", False)
    rows.module(main, "orders", True)
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.link(vendor, market)
    rows.order(vendor, 100)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert "orders" not in categories(exposition, "market")
    assert "orders" in categories(exposition, "main")
    assert vendor_value(exposition, "orders", "orders.total", "main", "V1") == 1
    assert vendor_value(exposition, "catalog_products", "catalog.products", "market", "V1") == 0


def test_platform_module_row_cannot_disable_a_core_module(writer: Engine, database_url: str) -> None:
    """A `platform_modules` row switching off customers, tenancy or cms is ignored: they are core modules."""
    rows = Rows(writer)
    market = rows.platform("market")
    for module in ("customers", "tenancy", "cms"):
        rows.module(market, module, False)
    vendor = rows.vendor("V1")
    rows.link(vendor, market)
    rows.customer(vendor)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert {"customers", "tenancy", "cms"} <= categories(exposition, "market")
    assert vendor_value(exposition, "customers", "customers.total", "market", "V1") == 1


def test_config_disable_wins_over_a_core_module(writer: Engine, database_url: str) -> None:
    """The config's per-platform `disable` switches off even a core module, on that platform only."""
    rows = Rows(writer)
    main, market = rows.platform("main"), rows.platform("market")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.link(vendor, market)
    exposition = collect(database_url, clock=FixedClock(NOW), platforms={"market": {"disable": ["customers"]}})
    assert "customers" not in categories(exposition, "market")
    assert "customers" in categories(exposition, "main")


HOSTILE = {
    'say "hi"': 'Bob\'s "Best" Books',
    "back\\slash": "C:\\shops\\new",
    "two\nlines": "First line\nsecond line",
    "Zoë-Ørsted-東京": "Ærø Øl & Café — 東京",
}


def test_hostile_codes_and_names_round_trip_through_the_labels(writer: Engine, database_url: str) -> None:
    """Quotes, backslashes, newlines and non-ASCII letters in codes and names come back unchanged from the parser."""
    rows = Rows(writer)
    platform = rows.platform('eu"west\\1', name="Ünïcode\nPlatform")
    for code, name in HOSTILE.items():
        vendor = rows.vendor(code, name=name)
        rows.link(vendor, platform)
        rows.order(vendor, len(code))
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert all(r.ok for r in exposition.results)
    assert info_value(exposition, "commerce_platform_info", dict(platform='eu"west\\1', name="Ünïcode\nPlatform")) == 1
    for code, name in HOSTILE.items():
        assert (
            info_value(
                exposition, "commerce_vendor_info", dict(platform='eu"west\\1', vendor=code, name=name, **PLAIN_VENDOR)
            )
            == 1
        )
        assert vendor_value(exposition, "orders", "orders.total", 'eu"west\\1', code) == 1
    assert platform_value(exposition, "orders", "orders.total", 'eu"west\\1') == len(HOSTILE)
