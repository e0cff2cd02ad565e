"""Family names and label escaping follow the documented naming rules exactly (docs/architecture.md)."""

from __future__ import annotations

import pytest

from exporter.contracts import Scope
from exporter.naming import escape_help_openmetrics, escape_help_text, escape_label_value, family_name


@pytest.mark.parametrize(
    ("scope", "key", "unit", "expected", "scale"),
    [
        (Scope.VENDOR, "orders.total", None, "commerce_vendor_orders", 1),
        (Scope.PLATFORM, "orders.total_revenue", "EUR", "commerce_platform_orders_total_revenue_eur", 1),
        (Scope.VENDOR, "cms.media_size", "bytes", "commerce_vendor_cms_media_size_bytes", 1),
        (
            Scope.VENDOR,
            "marketplace.import_success_rate",
            "%",
            "commerce_vendor_marketplace_import_success_rate_ratio",
            100,
        ),
        (Scope.PLATFORM, "customers.total", "items", "commerce_platform_customers", 1),
        (Scope.PLATFORM, "catalog.products", "count", "commerce_platform_catalog_products", 1),
        (Scope.VENDOR, "Weird--Key..Name__", None, "commerce_vendor_weird_key_name", 1),
        (Scope.VENDOR, "x.size_bytes", "bytes", "commerce_vendor_x_size_bytes", 1),
        (Scope.VENDOR, "x.lag", "Seconds", "commerce_vendor_x_lag_seconds", 1),
        (Scope.VENDOR, "x.orders_total_total", None, "commerce_vendor_x_orders", 1),
        (Scope.VENDOR, "total", None, "commerce_vendor_value", 1),
        (Scope.VENDOR, "x.amount", "usd", "commerce_vendor_x_amount_usd", 1),
    ],
)
def test_family_name(scope: Scope, key: str, unit: str | None, expected: str, scale: int) -> None:
    """Key sanitized, `_total` dropped, unit suffixed once, `%` scaled to a ratio."""
    name = family_name("commerce", scope, key, unit)
    assert (name.name, name.scale) == (expected, scale)


def test_namespace_is_the_prefix() -> None:
    """The configured namespace replaces `commerce`."""
    assert family_name("shop", Scope.PLATFORM, "orders.new", None).name == "shop_platform_orders_new"


def test_label_value_escaping() -> None:
    """Backslash, double quote and newline are escaped; other characters (unicode) pass through."""
    assert escape_label_value('a\\b"c\nd é') == 'a\\\\b\\"c\\nd é'


def test_help_escaping_differs_between_formats() -> None:
    """0.0.4 HELP keeps quotes; OpenMetrics HELP escapes them too."""
    assert escape_help_text('say "hi"\n\\') == 'say "hi"\\n\\\\'
    assert escape_help_openmetrics('say "hi"\n\\') == 'say \\"hi\\"\\n\\\\'
