"""The vendor dashboard: one vendor on one platform, every value by category, now and over time."""

from __future__ import annotations

from grafana.builders import (
    CURRENCY_NOTE,
    Dashboard,
    Expr,
    Panel,
    Row,
    Trend,
    Variable,
    card,
    dashboard,
    dashboard_links,
    datasource_variable,
    hide_columns,
    query_variable,
    stat,
    table,
    target,
    targets,
    timeseries,
    trend_variable,
)

V = 'platform="$platform", vendor="$vendor"'
"""The selected vendor on the selected platform."""


def vendor_value(family: str, extra: str = "") -> Expr:
    """A vendor-scope family of the selected vendor on the selected platform (replicas collapsed)."""
    return lambda o: f"max by (vendor) (commerce_vendor_{family}{{{V}{extra}}}{o})"


def build() -> Dashboard:
    variables: list[Variable] = [
        datasource_variable(),
        query_variable(
            "platform",
            "Platform",
            "label_values(commerce_vendor_info, platform)",
            description="The platform the vendor is linked to.",
        ),
        query_variable(
            "vendor",
            "Vendor",
            'label_values(commerce_vendor_info{platform="$platform"}, vendor)',
            description="vendors.vendor_code; the name is shown in the first panel.",
        ),
        query_variable(
            "currency",
            "Currency",
            f'label_values({{__name__=~"commerce_vendor_orders_total_revenue_[a-z]+", {V}}}, __name__)',
            regex="/^commerce_vendor_orders_total_revenue_([a-z]+)$/",
            description="Currencies the vendor has revenue in.",
        ),
        query_variable(
            "period",
            "Window",
            f"label_values(commerce_vendor_orders_new{{{V}}}, period)",
            description="The exporter's collection.period.",
        ),
        query_variable(
            "category",
            "Category",
            f'label_values({{__name__=~"commerce_vendor_.+", {V}}}, category)',
            multi=True,
            description="Provider categories; one row of values each.",
        ),
        trend_variable(),
    ]
    items: list[Panel | Row] = [
        Row("Vendor"),
        stat(
            "Vendor",
            "The vendor's name (commerce_vendor_info).",
            "none",
            [target(f"commerce_vendor_info{{{V}}}", "{{name}}", instant=True)],
            w=6,
            h=5,
            text_mode="name",
        ),
        table(
            "Platforms of this vendor",
            "Every platform the vendor has an active link to, with its merchant and its active/verified flags.",
            "none",
            [target('commerce_vendor_info{vendor="$vendor"}', instant=True, table=True)],
            w=6,
            h=5,
            transformations=[hide_columns("Time", "Value", "__name__", "job", "instance", "vendor", "name")],
        ),
        card(
            "Orders",
            "All orders of the vendor, any status.",
            "short",
            vendor_value("orders"),
            "orders",
        ),
        card(
            "Revenue ($currency)",
            "Order totals in revenue statuses. " + CURRENCY_NOTE,
            "short",
            vendor_value("orders_total_revenue_${currency}"),
            "revenue",
            decimals=2,
        ),
        card(
            "New orders ($period)",
            "Orders created within the exporter's window.",
            "short",
            vendor_value("orders_new", ', period="$period"'),
            "new orders",
        ),
        card(
            "Customers",
            "The vendor's customers.",
            "short",
            vendor_value("customers"),
            "customers",
        ),
        card(
            "Active products",
            "Active products in the vendor's catalog.",
            "short",
            vendor_value("catalog_products_active"),
            "active products",
        ),
        card(
            "Out of stock",
            "Active products without available stock.",
            "short",
            vendor_value("inventory_out_of_stock"),
            "out of stock",
            trend=Trend(up_is_good=False),
        ),
        card(
            "Low stock",
            "Active products with 1 to the low-stock threshold (default 5) units available.",
            "short",
            vendor_value("inventory_low_stock"),
            "low stock",
            trend=Trend(up_is_good=False),
        ),
        card(
            "Team members",
            "Active vendor_users rows.",
            "short",
            vendor_value("tenancy_team_members"),
            "team",
        ),
        card(
            "Media",
            "Total size of the vendor's media files.",
            "bytes",
            vendor_value("cms_media_size_bytes"),
            "media",
        ),
        card(
            "Import jobs",
            "Marketplace import jobs of the vendor (empty where marketplace is disabled).",
            "short",
            vendor_value("marketplace_import_jobs"),
            "import jobs",
        ),
        Row("Over time"),
        timeseries(
            "Orders",
            "The vendor's orders by status over time.",
            "short",
            targets(
                (f"commerce_vendor_orders{{{V}}}", "all"),
                (f"commerce_vendor_orders_pending{{{V}}}", "open"),
                (f"commerce_vendor_orders_cancelled{{{V}}}", "cancelled"),
                (f"commerce_vendor_orders_refunded{{{V}}}", "refunded"),
            ),
        ),
        timeseries(
            "Revenue and average order value ($currency)",
            "Revenue and average order value. " + CURRENCY_NOTE,
            "short",
            targets(
                (f"commerce_vendor_orders_total_revenue_${{currency}}{{{V}}}", "revenue"),
                (f"commerce_vendor_orders_average_value_${{currency}}{{{V}}}", "average order"),
            ),
        ),
        timeseries(
            "New orders and customers ($period)",
            "Orders and customers created within the window.",
            "short",
            targets(
                (f'commerce_vendor_orders_new{{{V}, period="$period"}}', "new orders"),
                (f'commerce_vendor_customers_new{{{V}, period="$period"}}', "new customers"),
            ),
        ),
        timeseries(
            "Stock",
            "Units on hand, reserved and available; out-of-stock and low-stock products.",
            "short",
            targets(
                (f"commerce_vendor_inventory_units{{{V}}}", "units on hand"),
                (f"commerce_vendor_inventory_units_reserved{{{V}}}", "units reserved"),
                (f"commerce_vendor_inventory_units_available{{{V}}}", "units available"),
                (f"commerce_vendor_inventory_out_of_stock{{{V}}}", "products out of stock"),
                (f"commerce_vendor_inventory_low_stock{{{V}}}", "products low on stock"),
            ),
        ),
        Row("$category", repeat="category"),
        table(
            "$category values",
            "Every vendor-scope value of the category, now (raw numbers).",
            "short",
            [target(f'{{__name__=~"commerce_vendor_.+", category="$category", {V}}}', instant=True, table=True)],
            transformations=[hide_columns("Time", "__name__", "job", "instance", "category", "platform", "vendor")],
            h=8,
        ),
        timeseries(
            "$category values over time",
            "Every vendor-scope value of the category over time (raw numbers).",
            "short",
            [target(f'{{__name__=~"commerce_vendor_.+", category="$category", {V}}}', "{{key}}")],
            h=8,
        ),
    ]
    return dashboard(
        "commerce-vendor",
        "Commerce / Vendor",
        "One vendor on one platform: every value by category, now and over time.",
        variables,
        items,
        links=dashboard_links(),
    )
