"""The merchant dashboard: one merchant's vendors together, on the platforms picked, each vendor counted once.

A merchant is the company that owns vendors (`merchant` label of `commerce_vendor_info`). Business
series carry no merchant label, so every query selects the merchant's vendors by joining with the
info series on `job, instance, platform, vendor`. A vendor's values do not depend on the platform
(and two exporter replicas export the same values), so each value is first reduced to one per
vendor (`max by (vendor)`) and only then summed: a vendor linked to two of the selected platforms,
or scraped from two replicas, counts once.
"""

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
    columns,
    dashboard,
    dashboard_links,
    datasource_variable,
    merge,
    query_variable,
    table,
    target,
    targets,
    timeseries,
    trend_variable,
)

P = 'platform=~"$platform"'
"""The selected platforms."""
MERCHANT = f'{P}, merchant="$merchant"'
"""The info series of the selected merchant's vendors on the selected platforms."""
JOIN = "and on (job, instance, platform, vendor)"
"""Keeps the business series of the vendors the info series on the right select."""
REVENUE = "commerce_vendor_orders_total_revenue_"


def info(o: str = "", extra: str = "") -> str:
    """The selected merchant's vendor info series (optionally only `active="true"` etc.)."""
    return f"commerce_vendor_info{{{MERCHANT}{extra}}}{o}"


def per_vendor(family: str, o: str = "", extra: str = "") -> str:
    """One value per vendor of the merchant: the vendor-scope family, de-duplicated across platforms and replicas."""
    return f"max by (vendor) (commerce_vendor_{family}{{{P}{extra}}}{o} {JOIN} {info(o)})"


def total(family: str, extra: str = "") -> Expr:
    """The merchant's total of a vendor-scope family: the sum over its distinct vendors."""
    return lambda o: f"sum({per_vendor(family, o, extra)})"


def vendors(flag: str = "") -> Expr:
    """Distinct vendors of the merchant; with `flag` (`active`, `verified`) those whose flag is true (0 when none)."""
    if not flag:
        return lambda o: f"count(max by (vendor) ({info(o)}))"
    flagged = f', {flag}="true"'
    return lambda o: f"sum(max by (vendor) ({info(o, flagged)}) or 0 * max by (vendor) ({info(o)}))"


def revenue_by_currency(o: str) -> str:
    """The merchant's revenue per currency (label `currency`, lower-case code), each vendor counted once."""
    families = f'{{__name__=~"{REVENUE}[a-z]+", {P}}}{o}'
    with_currency = f'label_replace({families}, "currency", "$1", "__name__", "{REVENUE}(.+)")'
    return f"sum by (currency) (max by (vendor, currency) ({with_currency} {JOIN} {info(o)}))"


def out_of_stock_share(o: str) -> str:
    """Out-of-stock active products ÷ active products over the merchant's vendors."""
    return f"{total('inventory_out_of_stock')(o)} / {total('catalog_products_active')(o)}"


def import_success(o: str) -> str:
    """The vendors' import success ratios weighted by their finished jobs (all jobs minus pending or processing).

    The exporter has no per-vendor count of completed jobs; every vendor's ratio is exact, and its
    jobs minus running ones are its finished jobs whenever every job status is one of the catalog's.
    """
    ratio = per_vendor("marketplace_import_success_rate_ratio", o)
    finished = f"({per_vendor('marketplace_import_jobs', o)} - {per_vendor('marketplace_import_jobs_running', o)})"
    return f"sum({ratio} * {finished}) / sum({finished} and {ratio})"


def vendor_rows(family: str, extra: str = "") -> str:
    """One table row per vendor of the merchant with its name: `vendor`, `name`, the family's value."""
    joined = f"commerce_vendor_{family}{{{P}{extra}}} * on (job, instance, platform, vendor) group_left (name) {info()}"
    return f"max by (vendor, name) ({joined})"


TABLE_COLUMNS = (
    ("Orders", "orders", ""),
    ("Revenue ($currency)", "orders_total_revenue_${currency}", ""),
    ("New orders ($period)", "orders_new", ', period="$period"'),
    ("Customers", "customers", ""),
    ("Team members", "tenancy_team_members", ""),
    ("Active products", "catalog_products_active", ""),
    ("Out of stock", "inventory_out_of_stock", ""),
    ("Import success", "marketplace_import_success_rate_ratio", ""),
)
"""(column title, vendor-scope family, extra matchers) of the vendors table, in column order."""


def build() -> Dashboard:
    variables: list[Variable] = [
        datasource_variable(),
        query_variable(
            "platform",
            "Platform",
            "label_values(commerce_vendor_info, platform)",
            multi=True,
            description="The merchant's vendors linked to these platforms count; a vendor on several counts once.",
        ),
        query_variable(
            "merchant",
            "Merchant",
            f"label_values(commerce_vendor_info{{{P}}}, merchant)",
            description="The company that owns the vendors: its code when the exporter's schema maps one, "
            "else its name.",
        ),
        query_variable(
            "currency",
            "Currency",
            f'label_values({{__name__=~"{REVENUE}[a-z]+", {P}}}, __name__)',
            regex=f"/^{REVENUE}([a-z]+)$/",
            description="The currency of the revenue column of the vendors table (the cards show every currency).",
        ),
        query_variable(
            "period",
            "Window",
            f"label_values(commerce_vendor_orders_new{{{P}}}, period)",
            description="The exporter's collection.period (window of new orders and customers).",
        ),
        trend_variable(),
    ]
    shown = [("vendor", "Vendor"), ("name", "Name"), ("Value #I", "Platforms")]
    shown += [(f"Value #{chr(ord('A') + i)}", title) for i, (title, _, _) in enumerate(TABLE_COLUMNS)]
    table_queries = [
        target(vendor_rows(family, extra), instant=True, table=True, ref=chr(ord("A") + i))
        for i, (_, family, extra) in enumerate(TABLE_COLUMNS)
    ]
    table_queries.append(
        target(
            f"count by (vendor, name) (max by (vendor, name, platform) ({info()}))",
            instant=True,
            table=True,
            ref=chr(ord("A") + len(TABLE_COLUMNS)),
        )
    )
    items: list[Panel | Row] = [
        Row("$merchant"),
        card("Vendors", "The merchant's vendors linked to the selected platforms.", "short", vendors(), "vendors"),
        card(
            "Active vendors",
            "The merchant's vendors whose vendor record is active.",
            "short",
            vendors("active"),
            "active",
        ),
        card(
            "Verified vendors",
            "The merchant's vendors whose vendor record is verified.",
            "short",
            vendors("verified"),
            "verified",
        ),
        card(
            "Customers",
            "Customers of the merchant's vendors.",
            "short",
            total("customers"),
            "customers",
        ),
        card(
            "Team members",
            "Active team memberships of the merchant's vendors (a person in two of its vendors counts twice).",
            "short",
            total("tenancy_team_members"),
            "team",
        ),
        card(
            "Orders",
            "All orders of the merchant's vendors, any status.",
            "short",
            total("orders"),
            "orders",
        ),
        card(
            "Revenue",
            "Order totals in revenue statuses of the merchant's vendors, one value per currency.",
            "short",
            revenue_by_currency,
            "{{currency}}",
            decimals=2,
            w=8,
        ),
        card(
            "New orders ($period)",
            "Orders of the merchant's vendors created within the exporter's window.",
            "short",
            total("orders_new", ', period="$period"'),
            "new orders",
        ),
        card(
            "New customers ($period)",
            "Customers of the merchant's vendors created within the exporter's window.",
            "short",
            total("customers_new", ', period="$period"'),
            "new customers",
        ),
        card(
            "Out-of-stock share",
            "Active products without available stock ÷ active products, over the merchant's vendors.",
            "percentunit",
            out_of_stock_share,
            "share",
            trend=Trend("points", up_is_good=False),
            decimals=1,
        ),
        card(
            "Import success",
            "The vendors' marketplace import success ratios, weighted by their finished jobs "
            "(all jobs minus pending and processing ones).",
            "percentunit",
            import_success,
            "success",
            trend=Trend("points"),
            decimals=1,
        ),
        table(
            "Vendors of $merchant",
            "One row per vendor of the merchant on the selected platforms: how many of those platforms it is "
            "linked to, and its main values (each the same on every platform). " + CURRENCY_NOTE,
            "short",
            table_queries,
            w=24,
            h=9,
            transformations=[
                merge(),
                columns(["Time", "__name__", "job", "instance"], shown),
            ],
        ),
        Row("Over time"),
        timeseries(
            "Orders",
            "All orders of the merchant's vendors: the total (each vendor once) and per vendor.",
            "short",
            targets(
                (total("orders")(""), "all vendors"),
                (vendor_rows("orders"), "{{name}} ({{vendor}})"),
            ),
        ),
        timeseries(
            "Revenue per currency",
            "Order totals in revenue statuses of the merchant's vendors, one line per currency.",
            "short",
            [target(revenue_by_currency(""), "{{currency}}")],
        ),
        timeseries(
            "New orders and customers ($period)",
            "Orders and customers of the merchant's vendors created within the window.",
            "short",
            targets(
                (total("orders_new", ', period="$period"')(""), "new orders"),
                (total("customers_new", ', period="$period"')(""), "new customers"),
            ),
        ),
        timeseries(
            "Out-of-stock share",
            "Out-of-stock ÷ active products over the merchant's vendors; the dashed line is the platform alert's "
            "threshold.",
            "percentunit",
            [target(out_of_stock_share(""), "share")],
            threshold=0.25,
            max_value=1,
        ),
    ]
    return dashboard(
        "commerce-merchant",
        "Commerce / Merchant",
        "One merchant (the company owning vendors): its vendors, customers, team, orders and revenue on the "
        "platforms picked, each vendor counted once.",
        variables,
        items,
        links=dashboard_links(),
    )
