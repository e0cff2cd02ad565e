"""Building blocks of the dashboards: queries, panels, rows, variables, the grid layout and the dashboard itself.

The TypedDicts below are the parts of Grafana's dashboard JSON (schemaVersion 39) the dashboards use;
they are plain dicts at run time, so the JSON keeps the key order in which the builders write it. A
dashboard module lists `Panel`s and `Row`s in reading order and hands them to `dashboard`, which
places them on the grid and numbers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

SCHEMA_VERSION = 39
"""Grafana 10.3 – 11.x dashboard JSON; newer Grafana migrates it on load."""

GRID_COLUMNS = 24


class Datasource(TypedDict):
    type: str
    uid: str


DATASOURCE: Datasource = {"type": "prometheus", "uid": "${datasource}"}
"""Every panel, query and variable goes through the `$datasource` variable (no import placeholders)."""

TAGS = ["commerce-exporter"]
"""Every dashboard carries this tag; the dashboards' link menu lists the dashboards that have it."""

INFO_JOIN = "on (job, instance, platform, vendor) group_left (name)"
"""Vendor names come from commerce_vendor_info; job and instance keep two replicas apart."""

CURRENCY_NOTE = "Amounts are in the currency chosen above ($currency); each currency is its own metric family."


# --- queries ----------------------------------------------------------------------------------


class Target(TypedDict):
    """One Prometheus query of a panel."""

    datasource: Datasource
    editorMode: Literal["code"]
    expr: str
    format: Literal["table", "time_series"]
    instant: bool
    range: bool
    legendFormat: str
    refId: str


def target(expr: str, legend: str = "__auto", *, instant: bool = False, table: bool = False, ref: str = "A") -> Target:
    """One Prometheus query: a range query unless `instant`; `table` returns one row per series."""
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


def targets(*queries: tuple[str, str], instant: bool = False) -> list[Target]:
    """Several (expr, legend) queries with refIds A, B, C…"""
    return [target(expr, legend, instant=instant, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)]


# --- field settings ---------------------------------------------------------------------------


class ThresholdStep(TypedDict):
    color: str
    value: float | None
    """None is the base step (from minus infinity)."""


class Thresholds(TypedDict):
    mode: Literal["absolute"]
    steps: list[ThresholdStep]


class ColorMode(TypedDict):
    mode: Literal["palette-classic", "thresholds"]


class MappedValue(TypedDict):
    text: str
    color: str
    index: int


class ValueMapping(TypedDict):
    """Shows a value (its decimal text is the key) as a word in a colour."""

    type: Literal["value"]
    options: dict[str, MappedValue]


class ThresholdsStyle(TypedDict):
    mode: Literal["dashed"]


class LineStyle(TypedDict):
    """A time series panel's `custom` field settings."""

    lineWidth: int
    fillOpacity: int
    showPoints: Literal["never"]
    spanNulls: bool
    thresholdsStyle: NotRequired[ThresholdsStyle]


class FieldDefaults(TypedDict, total=False):
    unit: str
    decimals: int
    min: float
    max: float
    mappings: list[ValueMapping]
    thresholds: Thresholds
    color: ColorMode
    custom: LineStyle


UP_DOWN: list[ValueMapping] = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
OK_FAILED: list[ValueMapping] = [
    {
        "type": "value",
        "options": {
            "0": {"text": "FAILED", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]
RED_GREEN: list[ThresholdStep] = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
"""Red below 1, green from 1: for 0/1 health values."""


# --- panel options ----------------------------------------------------------------------------


class ReduceOptions(TypedDict):
    calcs: list[str]
    fields: str
    values: bool


LAST_VALUE: ReduceOptions = {"calcs": ["lastNotNull"], "fields": "", "values": False}


class StatOptions(TypedDict):
    reduceOptions: ReduceOptions
    textMode: Literal["value_and_name", "value", "name"]
    colorMode: Literal["background", "value"]
    graphMode: Literal["none"]
    justifyMode: Literal["auto"]
    orientation: Literal["auto"]


class Legend(TypedDict):
    displayMode: Literal["table", "list"]
    placement: Literal["right", "bottom"]
    showLegend: bool
    calcs: NotRequired[list[str]]


class Tooltip(TypedDict):
    mode: Literal["multi"]
    sort: Literal["desc"]


class TimeseriesOptions(TypedDict):
    legend: Legend
    tooltip: Tooltip


class BargaugeOptions(TypedDict):
    displayMode: Literal["basic"]
    orientation: Literal["horizontal"]
    reduceOptions: ReduceOptions
    showUnfilled: bool
    valueMode: Literal["color"]


class TableFooter(TypedDict):
    show: bool
    reducer: list[str]
    fields: str


class TableOptions(TypedDict):
    showHeader: bool
    cellHeight: Literal["sm"]
    footer: TableFooter


class StateTimelineOptions(TypedDict):
    showValue: Literal["auto"]
    mergeValues: bool
    rowHeight: float
    legend: Legend


PanelOptions = StatOptions | TimeseriesOptions | BargaugeOptions | TableOptions | StateTimelineOptions


# --- table transformations --------------------------------------------------------------------


class OrganizeOptions(TypedDict):
    excludeByName: dict[str, bool]


class Organize(TypedDict):
    id: Literal["organize"]
    options: OrganizeOptions


class MatrixOptions(TypedDict):
    columnField: str
    rowField: str
    valueField: str


class GroupingToMatrix(TypedDict):
    id: Literal["groupingToMatrix"]
    options: MatrixOptions


Transformation = Organize | GroupingToMatrix


def hide_columns(*names: str) -> Organize:
    """An `organize` transformation that hides the given table columns."""
    return {"id": "organize", "options": {"excludeByName": {name: True for name in names}}}


def matrix(column: str, row: str) -> GroupingToMatrix:
    """Turns an instant table (one row per series) into `row` × `column` cells."""
    return {"id": "groupingToMatrix", "options": {"columnField": column, "rowField": row, "valueField": "Value"}}


# --- panels before layout ---------------------------------------------------------------------

PanelKind = Literal["stat", "timeseries", "bargauge", "table", "state-timeline"]


@dataclass(frozen=True, kw_only=True)
class Panel:
    """A panel before layout: kind, text, unit and queries; `w`/`h` are its size on the 24-column grid."""

    kind: PanelKind
    title: str
    description: str
    unit: str
    queries: list[Target]
    w: int
    h: int
    options: PanelOptions
    defaults: FieldDefaults = field(default_factory=lambda: FieldDefaults())
    transformations: list[Transformation] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """A row header; `repeat` names a variable to repeat the row (and its panels) for."""

    title: str
    repeat: str | None = None


def stat(
    title: str,
    description: str,
    unit: str,
    queries: list[Target],
    *,
    w: int = 4,
    h: int = 5,
    text_mode: Literal["value_and_name", "value", "name"] = "value_and_name",
    decimals: int | None = None,
    mappings: list[ValueMapping] | None = None,
    thresholds: list[ThresholdStep] | None = None,
) -> Panel:
    """One big number per series; with `thresholds` the background takes the step's colour."""
    defaults: FieldDefaults = {}
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    return Panel(
        kind="stat",
        title=title,
        description=description,
        unit=unit,
        queries=queries,
        w=w,
        h=h,
        defaults=defaults,
        options={
            "reduceOptions": LAST_VALUE,
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
    queries: list[Target],
    *,
    w: int = 12,
    h: int = 8,
    threshold: float | None = None,
    min_zero: bool = True,
    max_value: float | None = None,
) -> Panel:
    """Lines with a legend table on the right; `threshold` draws a dashed red line at that value."""
    lines: LineStyle = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False}
    defaults: FieldDefaults = {"custom": lines}
    if min_zero:
        defaults["min"] = 0
    if max_value is not None:
        defaults["max"] = max_value
    if threshold is not None:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": "transparent", "value": None}, {"color": "red", "value": threshold}],
        }
        lines["thresholdsStyle"] = {"mode": "dashed"}
    return Panel(
        kind="timeseries",
        title=title,
        description=description,
        unit=unit,
        queries=queries,
        w=w,
        h=h,
        defaults=defaults,
        options={
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def bargauge(title: str, description: str, unit: str, queries: list[Target], *, w: int = 8, h: int = 9) -> Panel:
    """Horizontal bars, one per series (top-k lists)."""
    return Panel(
        kind="bargauge",
        title=title,
        description=description,
        unit=unit,
        queries=queries,
        w=w,
        h=h,
        options={
            "displayMode": "basic",
            "orientation": "horizontal",
            "reduceOptions": LAST_VALUE,
            "showUnfilled": True,
            "valueMode": "color",
        },
    )


def table(
    title: str,
    description: str,
    unit: str,
    queries: list[Target],
    *,
    w: int = 12,
    h: int = 9,
    transformations: Sequence[Transformation] = (),
) -> Panel:
    """A table of instant query results, reshaped by `transformations`."""
    return Panel(
        kind="table",
        title=title,
        description=description,
        unit=unit,
        queries=queries,
        w=w,
        h=h,
        transformations=list(transformations),
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
    )


def state_timeline(
    title: str, description: str, queries: list[Target], mappings: list[ValueMapping], *, w: int = 24, h: int = 7
) -> Panel:
    """0/1 states over time, one band per series: red below 1, green from 1, named by `mappings`."""
    return Panel(
        kind="state-timeline",
        title=title,
        description=description,
        unit="none",
        queries=queries,
        w=w,
        h=h,
        defaults={
            "mappings": mappings,
            "color": {"mode": "thresholds"},
            "thresholds": {"mode": "absolute", "steps": RED_GREEN},
        },
        options={
            "showValue": "auto",
            "mergeValues": True,
            "rowHeight": 0.8,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        },
    )


# --- variables --------------------------------------------------------------------------------


class Selection(TypedDict, total=False):
    """A variable's current value; empty: Grafana picks the first value."""

    selected: bool
    text: list[str]
    value: list[str]


class DatasourceVariable(TypedDict):
    type: Literal["datasource"]
    name: str
    label: str
    query: str
    current: Selection
    hide: int
    includeAll: bool
    multi: bool
    options: list[Selection]
    refresh: int
    regex: str
    skipUrlSync: bool


class VariableQuery(TypedDict):
    query: str
    refId: str


class QueryVariable(TypedDict):
    type: Literal["query"]
    name: str
    label: str
    description: str
    datasource: Datasource
    definition: str
    query: VariableQuery
    refresh: int
    regex: str
    sort: int
    multi: bool
    includeAll: bool
    current: Selection
    options: list[Selection]
    hide: int
    skipUrlSync: bool


Variable = DatasourceVariable | QueryVariable


def datasource_variable() -> DatasourceVariable:
    """`$datasource`: any Prometheus datasource; every dashboard lists it first."""
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
) -> QueryVariable:
    """A `label_values` variable, refreshed on every time-range change (refresh 2), sorted A→Z."""
    return {
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


# --- layout -----------------------------------------------------------------------------------


class GridPos(TypedDict):
    h: int
    w: int
    x: int
    y: int


class FieldConfig(TypedDict):
    defaults: FieldDefaults
    overrides: list[dict[str, object]]


class PanelJson(TypedDict):
    type: PanelKind
    id: int
    title: str
    description: str
    datasource: Datasource
    gridPos: GridPos
    fieldConfig: FieldConfig
    options: PanelOptions
    targets: list[Target]
    transformations: NotRequired[list[Transformation]]


class RowJson(TypedDict):
    type: Literal["row"]
    id: int
    title: str
    collapsed: bool
    panels: list[PanelJson]
    gridPos: GridPos
    repeat: NotRequired[str]


def layout(items: Iterable[Panel | Row]) -> list[PanelJson | RowJson]:
    """Places panels left to right on the 24-column grid, numbered from 1; rows start a new line."""
    panels: list[PanelJson | RowJson] = []
    x = y = line_height = 0
    next_id = 1
    for item in items:
        if isinstance(item, Row):
            if x:
                y += line_height
            x, line_height = 0, 0
            row: RowJson = {
                "type": "row",
                "id": next_id,
                "title": item.title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y},
            }
            if item.repeat:
                row["repeat"] = item.repeat
            panels.append(row)
            next_id += 1
            y += 1
            continue
        if x + item.w > GRID_COLUMNS:
            x, y, line_height = 0, y + line_height, 0
        defaults: FieldDefaults = {"unit": item.unit}
        defaults.update(item.defaults)
        defaults.setdefault("color", {"mode": "palette-classic"})
        defaults.setdefault("thresholds", {"mode": "absolute", "steps": [{"color": "green", "value": None}]})
        panel: PanelJson = {
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


# --- dashboard --------------------------------------------------------------------------------


class Link(TypedDict):
    type: Literal["dashboards"]
    tags: list[str]
    asDropdown: bool
    title: str
    includeVars: bool
    keepTime: bool
    icon: str
    targetBlank: bool
    tooltip: str
    url: str


class Annotation(TypedDict):
    builtIn: int
    datasource: Datasource
    enable: bool
    hide: bool
    iconColor: str
    name: str
    type: Literal["dashboard"]


# "from" and "list" are keywords or builtins, so these two use the functional syntax.
TimeRange = TypedDict("TimeRange", {"from": str, "to": str})


class Annotations(TypedDict):
    list: list[Annotation]


class Templating(TypedDict):
    list: list[Variable]


class Dashboard(TypedDict):
    uid: str
    title: str
    description: str
    tags: list[str]
    editable: bool
    graphTooltip: int
    schemaVersion: int
    version: int
    time: TimeRange
    timepicker: dict[str, object]
    timezone: str
    refresh: str
    fiscalYearStartMonth: int
    liveNow: bool
    annotations: Annotations
    links: list[Link]
    templating: Templating
    panels: list[PanelJson | RowJson]


def dashboard_links() -> list[Link]:
    """The top-right *commerce-exporter* menu: every dashboard with the tag, keeping the time range."""
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


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[Variable],
    items: Iterable[Panel | Row],
    *,
    time_from: str = "now-24h",
    links: Sequence[Link] = (),
) -> Dashboard:
    """A whole dashboard: shared tooltip, refreshed every minute, `items` laid out on the grid."""
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
