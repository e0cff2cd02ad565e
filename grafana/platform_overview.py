"""The platform overview: every platform's values by category, orders and revenue, top vendors, stock, imports."""

from __future__ import annotations

from grafana.builders import (
    CURRENCY_NOTE,
    INFO_JOIN,
    Dashboard,
    Expr,
    Panel,
    Row,
    Trend,
    Variable,
    bargauge,
    card,
    dashboard,
    dashboard_links,
    datasource_variable,
    hide_columns,
    matrix,
    query_variable,
    table,
    target,
    targets,
    timeseries,
    trend_variable,
)

P = 'platform=~"$platform"'
"""The selected platforms."""


def top_vendors(metric: str) -> str:
    """Top 10 vendors on the selected platforms by a vendor-scope value, with their names."""
    return f"topk(10, max by (vendor, name) ({metric}{{{P}}} * {INFO_JOIN} commerce_vendor_info{{{P}}}))"


def platform_value(family: str, extra: str = "") -> Expr:
    """A platform-scope family on the selected platforms, one series per platform (replicas collapsed)."""
    return lambda o: f"max by (platform) (commerce_platform_{family}{{{P}{extra}}}{o})"


def out_of_stock_share(o: str) -> str:
    """Active products without available stock ÷ active products, per platform."""
    return (
        f"max by (platform) (commerce_platform_inventory_out_of_stock{{{P}}}{o})"
        f" / max by (platform) (commerce_platform_catalog_products_active{{{P}}}{o})"
    )


def build() -> Dashboard:
    share = out_of_stock_share("")
    variables: list[Variable] = [
        datasource_variable(),
        query_variable(
            "platform",
            "Platform",
            "label_values(commerce_platform_info, platform)",
            multi=True,
            description="Platforms (platforms.code) the exporter exports.",
        ),
        query_variable(
            "currency",
            "Currency",
            'label_values({__name__=~"commerce_platform_orders_total_revenue_[a-z]+", platform=~"$platform"}, '
            "__name__)",
            regex="/^commerce_platform_orders_total_revenue_([a-z]+)$/",
            description="Revenue is exported per currency; this picks the family.",
        ),
        query_variable(
            "period",
            "Window",
            f"label_values(commerce_platform_orders_new{{{P}}}, period)",
            description="The exporter's collection.period (window of new orders and customers).",
        ),
        query_variable(
            "category",
            "Category",
            f'label_values({{__name__=~"commerce_platform_.+", {P}}}, category)',
            multi=True,
            description="Provider categories; one row of raw values each.",
        ),
        trend_variable(),
    ]
    items: list[Panel | Row] = [
        Row("Platforms"),
        table(
            "Platforms",
            "Every exported platform with its display name (commerce_platform_info).",
            "none",
            [target(f"commerce_platform_info{{{P}}}", instant=True, table=True)],
            w=8,
            h=10,
            transformations=[hide_columns("Time", "Value", "__name__", "job", "instance")],
        ),
        card(
            "Active vendors",
            "Vendors linked to the platform (active link) whose vendor record is active.",
            "short",
            platform_value("tenancy_vendors_active"),
            "{{platform}}",
        ),
        card(
            "Customers",
            "Customers of the platform's vendors.",
            "short",
            platform_value("customers"),
            "{{platform}}",
        ),
        card(
            "Orders",
            "All orders of the platform's vendors, any status.",
            "short",
            platform_value("orders"),
            "{{platform}}",
        ),
        card(
            "Revenue ($currency)",
            "Sum of order totals in revenue statuses (all but cancelled and refunded). " + CURRENCY_NOTE,
            "short",
            platform_value("orders_total_revenue_${currency}"),
            "{{platform}}",
            decimals=2,
        ),
        card(
            "New orders ($period)",
            "Orders created within the exporter's window.",
            "short",
            platform_value("orders_new", ', period="$period"'),
            "{{platform}}",
        ),
        card(
            "New customers ($period)",
            "Customers created within the exporter's window.",
            "short",
            platform_value("customers_new", ', period="$period"'),
            "{{platform}}",
        ),
        card(
            "Out-of-stock share",
            "Active products with no available stock ÷ active products. "
            "Alert CommerceOutOfStockShareHigh fires above 25%.",
            "percentunit",
            out_of_stock_share,
            "{{platform}}",
            trend=Trend("points", up_is_good=False),
            decimals=1,
        ),
        card(
            "Import success",
            "Completed ÷ finished marketplace import jobs. Alert CommerceImportSuccessRatioLow fires below 80%.",
            "percentunit",
            platform_value("marketplace_import_success_rate_ratio"),
            "{{platform}}",
            trend=Trend("points"),
            decimals=1,
        ),
        Row("Orders and revenue"),
        timeseries(
            "Orders",
            "All orders of the platform's vendors over time.",
            "short",
            [target(f"commerce_platform_orders{{{P}}}", "{{platform}}")],
        ),
        timeseries(
            "Orders added in the previous hour",
            "Growth of the order count over the hour before each point (new orders minus deleted ones).",
            "short",
            [target(f"delta(commerce_platform_orders{{{P}}}[1h])", "{{platform}}")],
            min_zero=False,
        ),
        timeseries(
            "Revenue ($currency)",
            "Revenue over time. " + CURRENCY_NOTE,
            "short",
            [target(f"commerce_platform_orders_total_revenue_${{currency}}{{{P}}}", "{{platform}}")],
        ),
        timeseries(
            "Average order value ($currency)",
            "Revenue ÷ revenue-status orders. " + CURRENCY_NOTE,
            "short",
            [target(f"commerce_platform_orders_average_value_${{currency}}{{{P}}}", "{{platform}}")],
        ),
        timeseries(
            "Open, cancelled and refunded orders",
            "Orders pending or processing, cancelled, and refunded.",
            "short",
            targets(
                (f"commerce_platform_orders_pending{{{P}}}", "{{platform}} open"),
                (f"commerce_platform_orders_cancelled{{{P}}}", "{{platform}} cancelled"),
                (f"commerce_platform_orders_refunded{{{P}}}", "{{platform}} refunded"),
            ),
        ),
        timeseries(
            "New orders and customers ($period)",
            "Orders and customers created within the window.",
            "short",
            targets(
                (f'commerce_platform_orders_new{{{P}, period="$period"}}', "{{platform}} orders"),
                (f'commerce_platform_customers_new{{{P}, period="$period"}}', "{{platform}} customers"),
            ),
        ),
        bargauge(
            "Top vendors by revenue ($currency)",
            "The 10 vendors with the highest revenue on the selected platforms; names from "
            "commerce_vendor_info. " + CURRENCY_NOTE,
            "short",
            [
                target(
                    top_vendors("commerce_vendor_orders_total_revenue_${currency}"),
                    "{{name}} ({{vendor}})",
                    instant=True,
                )
            ],
            w=12,
            h=10,
        ),
        bargauge(
            "Top vendors by orders",
            "The 10 vendors with the most orders on the selected platforms.",
            "short",
            [target(top_vendors("commerce_vendor_orders"), "{{name}} ({{vendor}})", instant=True)],
            w=12,
            h=10,
        ),
        Row("Stock"),
        timeseries(
            "Out-of-stock and low-stock products",
            "Active products with no available unit, and with 1 to the low-stock threshold (default 5).",
            "short",
            targets(
                (f"commerce_platform_inventory_out_of_stock{{{P}}}", "{{platform}} out of stock"),
                (f"commerce_platform_inventory_low_stock{{{P}}}", "{{platform}} low stock"),
            ),
        ),
        timeseries(
            "Out-of-stock share",
            "Out-of-stock ÷ active products; the dashed line is the alert threshold.",
            "percentunit",
            [target(share, "{{platform}}")],
            threshold=0.25,
            max_value=1,
        ),
        timeseries(
            "Units",
            "Units on hand, reserved, and available (on hand minus reserved, per row, not below 0).",
            "short",
            targets(
                (f"commerce_platform_inventory_units{{{P}}}", "{{platform}} on hand"),
                (f"commerce_platform_inventory_units_reserved{{{P}}}", "{{platform}} reserved"),
                (f"commerce_platform_inventory_units_available{{{P}}}", "{{platform}} available"),
            ),
        ),
        bargauge(
            "Vendors with most out-of-stock products",
            "The 10 vendors with the most active products without available stock.",
            "short",
            [target(top_vendors("commerce_vendor_inventory_out_of_stock"), "{{name}} ({{vendor}})", instant=True)],
            w=12,
            h=8,
        ),
        Row("Marketplace imports"),
        timeseries(
            "Import success ratio",
            "Completed ÷ finished import jobs; the dashed line is the alert threshold.",
            "percentunit",
            [target(f"commerce_platform_marketplace_import_success_rate_ratio{{{P}}}", "{{platform}}")],
            threshold=0.8,
            max_value=1,
            w=8,
        ),
        timeseries(
            "Import jobs",
            "All import jobs, failed ones, and pending or processing ones.",
            "short",
            targets(
                (f"commerce_platform_marketplace_import_jobs{{{P}}}", "{{platform}} all"),
                (f"commerce_platform_marketplace_import_jobs_failed{{{P}}}", "{{platform}} failed"),
                (f"commerce_platform_marketplace_import_jobs_running{{{P}}}", "{{platform}} running"),
            ),
            w=8,
        ),
        timeseries(
            "Import errors and staged products",
            "Sum of the jobs' error counts, and imported products not yet taken into a catalog.",
            "short",
            targets(
                (f"commerce_platform_marketplace_import_errors{{{P}}}", "{{platform}} errors"),
                (f"commerce_platform_marketplace_staging_products{{{P}}}", "{{platform}} staged"),
            ),
            w=8,
        ),
        bargauge(
            "Vendors with most failed imports",
            "The 10 vendors with the most failed import jobs.",
            "short",
            [
                target(
                    top_vendors("commerce_vendor_marketplace_import_jobs_failed"), "{{name}} ({{vendor}})", instant=True
                )
            ],
            w=12,
            h=8,
        ),
        bargauge(
            "Vendors with most import errors",
            "The 10 vendors whose import jobs reported the most errors.",
            "short",
            [target(top_vendors("commerce_vendor_marketplace_import_errors"), "{{name}} ({{vendor}})", instant=True)],
            w=12,
            h=8,
        ),
        Row("$category: every platform value", repeat="category"),
        table(
            "$category values by platform",
            "Every platform-scope value of the category, one row per key and one column per platform. "
            "Raw numbers: bytes, currency amounts and ratios are shown unformatted.",
            "short",
            [target(f'{{__name__=~"commerce_platform_.+", category="$category", {P}}}', instant=True, table=True)],
            transformations=[matrix("platform", "key")],
        ),
        timeseries(
            "$category values over time",
            "Every platform-scope value of the category over time (raw numbers).",
            "short",
            [target(f'{{__name__=~"commerce_platform_.+", category="$category", {P}}}', "{{platform}} {{key}}")],
        ),
    ]
    return dashboard(
        "commerce-platform-overview",
        "Commerce / Platform overview",
        "Admin view: every platform's values by category, orders and revenue, top vendors, stock and imports.",
        variables,
        items,
        links=dashboard_links(),
    )
