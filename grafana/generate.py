"""Writes grafana/dashboards/*.json from the panel lists below (`--check`: fail if the files differ).

The JSON files are what Grafana loads and what users import; this script is how they are kept
consistent (one datasource variable everywhere, a unit and a description on every panel, a stable
layout). Edit here, run `python grafana/generate.py`, commit both. Metric and label names are the
exposition contract of DESIGN §6; tests/test_e2e_dashboards.py runs every query against a real
Prometheus scraping the demo exporter.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 39
"""Grafana 10.3 – 11.x dashboard JSON; newer Grafana migrates it on load."""

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["commerce-exporter"]
INFO_JOIN = "on (job, instance, platform, vendor) group_left (name)"
"""Vendor names come from commerce_vendor_info; job and instance keep two replicas apart."""

Json = dict[str, Any]


# --- building blocks ------------------------------------------------------------------------


def target(expr: str, legend: str = "__auto", *, instant: bool = False, table: bool = False, ref: str = "A") -> Json:
    """One Prometheus query of a panel."""
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "range": not instant,
        "legendFormat": legend,
        "refId": ref,
    }


def targets(*queries: tuple[str, str], instant: bool = False) -> list[Json]:
    """Several (expr, legend) queries with refIds A, B, C…"""
    return [target(expr, legend, instant=instant, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)]


@dataclass
class Panel:
    """A panel before layout: kind, text, unit and queries; `w`/`h` are its size on the 24-column grid."""

    kind: str
    title: str
    description: str
    unit: str
    queries: list[Json]
    w: int = 8
    h: int = 8
    options: Json = field(default_factory=dict)
    defaults: Json = field(default_factory=dict)
    transformations: list[Json] = field(default_factory=list)


@dataclass
class Row:
    """A row header; `repeat` names a variable to repeat the row (and its panels) for."""

    title: str
    repeat: str | None = None


def stat(
    title: str,
    description: str,
    unit: str,
    queries: list[Json],
    *,
    w: int = 4,
    h: int = 5,
    text_mode: str = "value_and_name",
    decimals: int | None = None,
    mappings: list[Json] | None = None,
    thresholds: list[Json] | None = None,
) -> Panel:
    defaults: Json = {}
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    return Panel(
        "stat",
        title,
        description,
        unit,
        queries,
        w=w,
        h=h,
        defaults=defaults,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": text_mode,
            "colorMode": "background" if thresholds else "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
        },
    )


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: list[Json],
    *,
    w: int = 12,
    h: int = 8,
    threshold: float | None = None,
    min_zero: bool = True,
    max_value: float | None = None,
) -> Panel:
    defaults: Json = {"custom": {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False}}
    if min_zero:
        defaults["min"] = 0
    if max_value is not None:
        defaults["max"] = max_value
    if threshold is not None:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": "transparent", "value": None}, {"color": "red", "value": threshold}],
        }
        defaults["custom"]["thresholdsStyle"] = {"mode": "dashed"}
    return Panel(
        "timeseries",
        title,
        description,
        unit,
        queries,
        w=w,
        h=h,
        defaults=defaults,
        options={
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def bargauge(title: str, description: str, unit: str, queries: list[Json], *, w: int = 8, h: int = 9) -> Panel:
    return Panel(
        "bargauge",
        title,
        description,
        unit,
        queries,
        w=w,
        h=h,
        options={
            "displayMode": "basic",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "valueMode": "color",
        },
    )


def table(
    title: str,
    description: str,
    unit: str,
    queries: list[Json],
    *,
    w: int = 12,
    h: int = 9,
    transformations: list[Json] | None = None,
) -> Panel:
    return Panel(
        "table",
        title,
        description,
        unit,
        queries,
        w=w,
        h=h,
        transformations=list(transformations or []),
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
    )


def state_timeline(
    title: str, description: str, queries: list[Json], mappings: list[Json], *, w: int = 24, h: int = 7
) -> Panel:
    return Panel(
        "state-timeline",
        title,
        description,
        "none",
        queries,
        w=w,
        h=h,
        defaults={
            "mappings": mappings,
            "color": {"mode": "thresholds"},
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
            },
        },
        options={
            "showValue": "auto",
            "mergeValues": True,
            "rowHeight": 0.8,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        },
    )


def hide_columns(*names: str) -> Json:
    """An `organize` transformation that hides the given table columns."""
    return {"id": "organize", "options": {"excludeByName": {name: True for name in names}}}


def matrix(column: str, row: str) -> Json:
    """Turns an instant table (one row per series) into `row` × `column` cells."""
    return {"id": "groupingToMatrix", "options": {"columnField": column, "rowField": row, "valueField": "Value"}}


UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
OK_FAILED = [
    {
        "type": "value",
        "options": {
            "0": {"text": "FAILED", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]
RED_GREEN = [{"color": "red", "value": None}, {"color": "green", "value": 1}]


# --- variables ------------------------------------------------------------------------------


def datasource_variable() -> Json:
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_variable(
    name: str, label: str, query: str, *, multi: bool = False, regex: str = "", description: str = ""
) -> Json:
    """A `label_values` variable, refreshed on every time-range change (refresh 2), sorted A→Z."""
    variable: Json = {
        "type": "query",
        "name": name,
        "label": label,
        "description": description,
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": regex,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }
    return variable


# --- layout ---------------------------------------------------------------------------------


def layout(items: Iterable[Panel | Row]) -> list[Json]:
    """Places panels left to right on the 24-column grid; rows start a new line."""
    panels: list[Json] = []
    x = y = line_height = 0
    next_id = 1
    for item in items:
        if isinstance(item, Row):
            if x:
                y += line_height
            x, line_height = 0, 0
            row: Json = {
                "type": "row",
                "id": next_id,
                "title": item.title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
            if item.repeat:
                row["repeat"] = item.repeat
            panels.append(row)
            next_id += 1
            y += 1
            continue
        if x + item.w > 24:
            x, y, line_height = 0, y + line_height, 0
        defaults = {"unit": item.unit, **item.defaults}
        defaults.setdefault("color", {"mode": "palette-classic"})
        defaults.setdefault("thresholds", {"mode": "absolute", "steps": [{"color": "green", "value": None}]})
        panel: Json = {
            "type": item.kind,
            "id": next_id,
            "title": item.title,
            "description": item.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": item.h, "w": item.w, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": item.options,
            "targets": item.queries,
        }
        if item.transformations:
            panel["transformations"] = item.transformations
        panels.append(panel)
        next_id += 1
        x += item.w
        line_height = max(line_height, item.h)
    return panels


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[Json],
    items: Iterable[Panel | Row],
    *,
    time_from: str = "now-24h",
    links: Sequence[Json] = (),
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": list(links),
        "templating": {"list": list(variables)},
        "panels": layout(items),
    }


def dashboard_links() -> list[Json]:
    return [
        {
            "type": "dashboards",
            "tags": TAGS,
            "asDropdown": True,
            "title": "commerce-exporter",
            "includeVars": False,
            "keepTime": True,
            "icon": "external link",
            "targetBlank": False,
            "tooltip": "",
            "url": "",
        }
    ]


# --- platform overview ----------------------------------------------------------------------

P = 'platform=~"$platform"'
CURRENCY_NOTE = "Amounts are in the currency chosen above ($currency); each currency is its own metric family."


def top_vendors(metric: str) -> str:
    """Top 10 vendors on the selected platforms by a vendor-scope value, with their names."""
    return f"topk(10, max by (vendor, name) ({metric}{{{P}}} * {INFO_JOIN} commerce_vendor_info{{{P}}}))"


def platform_overview() -> Json:
    share = (
        f"max by (platform) (commerce_platform_inventory_out_of_stock{{{P}}})"
        f" / max by (platform) (commerce_platform_catalog_products_active{{{P}}})"
    )
    variables = [
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
        stat(
            "Active vendors",
            "Vendors linked to the platform (active link) whose vendor record is active.",
            "short",
            [target(f"commerce_platform_tenancy_vendors_active{{{P}}}", "{{platform}}")],
            w=4,
            h=5,
        ),
        stat(
            "Customers",
            "Customers of the platform's vendors.",
            "short",
            [target(f"commerce_platform_customers{{{P}}}", "{{platform}}")],
            w=4,
            h=5,
        ),
        stat(
            "Orders",
            "All orders of the platform's vendors, any status.",
            "short",
            [target(f"commerce_platform_orders{{{P}}}", "{{platform}}")],
            w=4,
            h=5,
        ),
        stat(
            "Revenue ($currency)",
            "Sum of order totals in revenue statuses (all but cancelled and refunded). " + CURRENCY_NOTE,
            "short",
            [target(f"commerce_platform_orders_total_revenue_${{currency}}{{{P}}}", "{{platform}}")],
            w=4,
            h=5,
            decimals=2,
        ),
        stat(
            "New orders ($period)",
            "Orders created within the exporter's window.",
            "short",
            [target(f'commerce_platform_orders_new{{{P}, period="$period"}}', "{{platform}}")],
            w=4,
            h=5,
        ),
        stat(
            "New customers ($period)",
            "Customers created within the exporter's window.",
            "short",
            [target(f'commerce_platform_customers_new{{{P}, period="$period"}}', "{{platform}}")],
            w=4,
            h=5,
        ),
        stat(
            "Out-of-stock share",
            "Active products with no available stock ÷ active products. "
            "Alert CommerceOutOfStockShareHigh fires above 25%.",
            "percentunit",
            [target(share, "{{platform}}")],
            w=4,
            h=5,
            decimals=1,
        ),
        stat(
            "Import success",
            "Completed ÷ finished marketplace import jobs. Alert CommerceImportSuccessRatioLow fires below 80%.",
            "percentunit",
            [target(f"commerce_platform_marketplace_import_success_rate_ratio{{{P}}}", "{{platform}}")],
            w=4,
            h=5,
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


# --- vendor -----------------------------------------------------------------------------------

V = 'platform="$platform", vendor="$vendor"'


def vendor() -> Json:
    variables = [
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
    ]
    items: list[Panel | Row] = [
        Row("Vendor"),
        stat(
            "Vendor",
            "The vendor's name (commerce_vendor_info).",
            "none",
            [target(f"commerce_vendor_info{{{V}}}", "{{name}}", instant=True)],
            w=6,
            h=4,
            text_mode="name",
        ),
        table(
            "Platforms of this vendor",
            "Every platform the vendor has an active link to.",
            "none",
            [target('commerce_vendor_info{vendor="$vendor"}', instant=True, table=True)],
            w=6,
            h=4,
            transformations=[hide_columns("Time", "Value", "__name__", "job", "instance", "vendor", "name")],
        ),
        stat(
            "Orders",
            "All orders of the vendor, any status.",
            "short",
            [target(f"commerce_vendor_orders{{{V}}}", "orders")],
            w=3,
            h=4,
            text_mode="value",
        ),
        stat(
            "Revenue ($currency)",
            "Order totals in revenue statuses. " + CURRENCY_NOTE,
            "short",
            [target(f"commerce_vendor_orders_total_revenue_${{currency}}{{{V}}}", "revenue")],
            w=3,
            h=4,
            text_mode="value",
            decimals=2,
        ),
        stat(
            "New orders ($period)",
            "Orders created within the exporter's window.",
            "short",
            [target(f'commerce_vendor_orders_new{{{V}, period="$period"}}', "new orders")],
            w=3,
            h=4,
            text_mode="value",
        ),
        stat(
            "Customers",
            "The vendor's customers.",
            "short",
            [target(f"commerce_vendor_customers{{{V}}}", "customers")],
            w=3,
            h=4,
            text_mode="value",
        ),
        stat(
            "Active products",
            "Active products in the vendor's catalog.",
            "short",
            [target(f"commerce_vendor_catalog_products_active{{{V}}}", "active products")],
            w=4,
            h=4,
            text_mode="value",
        ),
        stat(
            "Out of stock",
            "Active products without available stock.",
            "short",
            [target(f"commerce_vendor_inventory_out_of_stock{{{V}}}", "out of stock")],
            w=4,
            h=4,
            text_mode="value",
        ),
        stat(
            "Low stock",
            "Active products with 1 to the low-stock threshold (default 5) units available.",
            "short",
            [target(f"commerce_vendor_inventory_low_stock{{{V}}}", "low stock")],
            w=4,
            h=4,
            text_mode="value",
        ),
        stat(
            "Team members",
            "Active vendor_users rows.",
            "short",
            [target(f"commerce_vendor_tenancy_team_members{{{V}}}", "team")],
            w=4,
            h=4,
            text_mode="value",
        ),
        stat(
            "Media",
            "Total size of the vendor's media files.",
            "bytes",
            [target(f"commerce_vendor_cms_media_size_bytes{{{V}}}", "media")],
            w=4,
            h=4,
            text_mode="value",
        ),
        stat(
            "Import jobs",
            "Marketplace import jobs of the vendor (empty where marketplace is disabled).",
            "short",
            [target(f"commerce_vendor_marketplace_import_jobs{{{V}}}", "import jobs")],
            w=4,
            h=4,
            text_mode="value",
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


# --- exporter health --------------------------------------------------------------------------

E = 'job=~"$job", instance=~"$instance"'
EP = f'{E}, provider=~"$provider"'


def exporter_health() -> Json:
    variables = [
        datasource_variable(),
        query_variable(
            "job",
            "Job",
            "label_values(commerce_exporter_build_info, job)",
            multi=True,
            description="Prometheus jobs that scrape a commerce-exporter.",
        ),
        query_variable(
            "instance", "Instance", 'label_values(commerce_exporter_build_info{job=~"$job"}, instance)', multi=True
        ),
        query_variable(
            "provider", "Provider", f"label_values(commerce_exporter_provider_up{{{E}}}, provider)", multi=True
        ),
    ]
    items: list[Panel | Row] = [
        Row("Exporter"),
        stat(
            "Scrape target",
            "Prometheus' `up`: 1 when the last scrape of the exporter succeeded.",
            "none",
            [target(f"up{{{E}}}", "{{instance}}")],
            w=4,
            mappings=UP_DOWN,
            thresholds=RED_GREEN,
        ),
        stat(
            "Database",
            "1 when the exporter's last database check succeeded.",
            "none",
            [target(f"commerce_exporter_database_up{{{E}}}", "{{instance}}")],
            w=4,
            mappings=UP_DOWN,
            thresholds=RED_GREEN,
        ),
        stat(
            "Last config load",
            "Whether the last configuration load or reload succeeded.",
            "none",
            [target(f"commerce_exporter_config_last_reload_successful{{{E}}}", "{{instance}}")],
            w=4,
            mappings=OK_FAILED,
            thresholds=RED_GREEN,
        ),
        stat(
            "Config age",
            "Time since the configuration was last loaded successfully.",
            "s",
            [target(f"time() - commerce_exporter_config_last_reload_success_timestamp_seconds{{{E}}}", "{{instance}}")],
            w=4,
        ),
        stat(
            "Uptime",
            "Time since the exporter process started.",
            "s",
            [target(f"time() - process_start_time_seconds{{{E}}}", "{{instance}}")],
            w=4,
        ),
        stat(
            "Version",
            "commerce_exporter_build_info.",
            "none",
            [target(f"commerce_exporter_build_info{{{E}}}", "{{version}}", instant=True)],
            w=4,
            text_mode="name",
        ),
        Row("Providers"),
        state_timeline(
            "Provider up",
            "1 when the provider's last run succeeded.",
            [target(f"commerce_exporter_provider_up{{{EP}}}", "{{provider}} {{instance}}")],
            UP_DOWN,
        ),
        timeseries(
            "Run duration",
            "Wall time of each provider's last run.",
            "s",
            [target(f"commerce_exporter_provider_duration_seconds{{{EP}}}", "{{provider}} {{instance}}")],
        ),
        timeseries(
            "Time since last success",
            "time() − last successful run (staleness). Alert CommerceExporterDataStale fires above 15 minutes; "
            "series stay exported until stale_after (3 × interval by default).",
            "s",
            [
                target(
                    f"(time() - commerce_exporter_provider_last_success_timestamp_seconds{{{EP}}})"
                    f" and commerce_exporter_provider_last_success_timestamp_seconds{{{EP}}} > 0",
                    "{{provider}} {{instance}}",
                )
            ],
            threshold=900,
        ),
        timeseries(
            "Runs per minute",
            "Provider runs started per minute.",
            "opm",
            [
                target(
                    f"sum by (instance, provider) (rate(commerce_exporter_provider_runs_total{{{EP}}}"
                    "[$__rate_interval])) * 60",
                    "{{provider}} {{instance}}",
                )
            ],
        ),
        timeseries(
            "Failures",
            "Failed runs per interval, by reason (error, timeout, invalid, schema).",
            "short",
            [
                target(
                    f"sum by (instance, provider, reason) "
                    f"(increase(commerce_exporter_provider_failures_total{{{EP}}}[$__rate_interval]))",
                    "{{provider}} {{reason}} {{instance}}",
                )
            ],
        ),
        timeseries(
            "Series per provider",
            "Series each provider exports now (0 once its data went stale).",
            "short",
            [target(f"commerce_exporter_provider_series{{{EP}}}", "{{provider}} {{instance}}")],
        ),
        timeseries(
            "Dropped values",
            "Provider values left out of the exposition per interval, by reason.",
            "short",
            [
                target(
                    f"sum by (instance, provider, reason) "
                    f"(increase(commerce_exporter_values_dropped_total{{{EP}}}[$__rate_interval]))",
                    "{{provider}} {{reason}} {{instance}}",
                )
            ],
        ),
        stat(
            "Providers that failed to load",
            "Providers that could not be imported, built or validated since the process started (0 when all "
            "loaded; the exporter log names the cause).",
            "short",
            [
                target(
                    f"sum by (instance) (commerce_exporter_provider_load_failures_total{{{E}}})"
                    f" or sum by (instance) (0 * commerce_exporter_build_info{{{E}}})",
                    "{{instance}}",
                )
            ],
            w=12,
            h=8,
            thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
        ),
        Row("Scrapes (Prometheus)"),
        timeseries(
            "Scrape duration",
            "How long Prometheus' scrapes of the exporter take (scrape_duration_seconds).",
            "s",
            [target(f"scrape_duration_seconds{{{E}}}", "{{instance}}")],
            w=8,
        ),
        timeseries(
            "Samples per scrape",
            "Samples in each scrape, before and after metric relabeling.",
            "short",
            targets(
                (f"scrape_samples_scraped{{{E}}}", "{{instance}} scraped"),
                (f"scrape_samples_post_metric_relabeling{{{E}}}", "{{instance}} kept"),
            ),
            w=8,
        ),
        timeseries(
            "New series per scrape",
            "Series that did not exist in the previous scrape (churn).",
            "short",
            [target(f"scrape_series_added{{{E}}}", "{{instance}}")],
            w=8,
        ),
        Row("Process"),
        timeseries(
            "Memory",
            "Resident and virtual memory of the exporter process.",
            "bytes",
            targets(
                (f"process_resident_memory_bytes{{{E}}}", "{{instance}} resident"),
                (f"process_virtual_memory_bytes{{{E}}}", "{{instance}} virtual"),
            ),
            w=8,
        ),
        timeseries(
            "CPU",
            "CPU time used per second (1 = one full core).",
            "percentunit",
            [target(f"rate(process_cpu_seconds_total{{{E}}}[$__rate_interval])", "{{instance}}")],
            w=8,
        ),
        timeseries(
            "Open file descriptors",
            "Open file descriptors (sockets, database connections) and the limit.",
            "short",
            targets(
                (f"process_open_fds{{{E}}}", "{{instance}} open"), (f"process_max_fds{{{E}}}", "{{instance}} limit")
            ),
            w=8,
        ),
    ]
    return dashboard(
        "commerce-exporter-health",
        "Commerce / Exporter health",
        "Is the exporter scraped, are its providers running and fresh, what does it cost.",
        variables,
        items,
        time_from="now-6h",
        links=dashboard_links(),
    )


BUILDERS = {
    "platform-overview.json": platform_overview,
    "vendor.json": vendor,
    "exporter-health.json": exporter_health,
}


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for name, build in BUILDERS.items():
        path = DASHBOARDS / name
        text = render(build())
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"out of date (run python grafana/generate.py): {', '.join(stale)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
