"""Building blocks of the dashboards: queries, panels, rows, variables, the grid layout and the dashboard itself.

The TypedDicts below are the parts of Grafana's dashboard JSON (schemaVersion 39) the dashboards use;
they are plain dicts at run time, so the JSON keeps the key order in which the builders write it. A
dashboard module lists `Panel`s and `Row`s in reading order and hands them to `dashboard`, which
places them on the grid and numbers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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

TREND_PERIOD = "trend_period"
"""The variable that says how far back the cards compare (`7d` by default)."""
THEN = " offset $trend_period"
"""The offset modifier that reads a selector one trend period earlier."""

Expr = Callable[[str], str]
"""A PromQL expression as a function of an offset modifier: `expr("")` is now, `expr(THEN)` one period earlier.

Every selector of the expression is written `name{…}{o}`, so the same function gives both readings.
"""


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


class SpecialResult(TypedDict):
    text: str
    color: str
    index: int


class SpecialOptions(TypedDict):
    match: Literal["null+nan", "null", "nan"]
    result: SpecialResult


class SpecialMapping(TypedDict):
    """Shows a missing or NaN value as a word in a colour."""

    type: Literal["special"]
    options: SpecialOptions


DisplayMapping = ValueMapping | SpecialMapping


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
    mappings: list[DisplayMapping]
    thresholds: Thresholds
    color: ColorMode
    custom: LineStyle
    noValue: str


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


class Matcher(TypedDict):
    id: Literal["byFrameRefID"]
    options: str


class Property(TypedDict):
    id: Literal["unit", "decimals", "mappings", "thresholds", "color", "noValue"]
    value: object


class Override(TypedDict):
    """Field settings for the fields of one query (by refId)."""

    matcher: Matcher
    properties: list[Property]


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


class Merge(TypedDict):
    id: Literal["merge"]
    options: dict[str, object]


class RenameOptions(TypedDict):
    excludeByName: dict[str, bool]
    renameByName: dict[str, str]
    indexByName: dict[str, int]


class Rename(TypedDict):
    id: Literal["organize"]
    options: RenameOptions


Transformation = Organize | GroupingToMatrix | Merge | Rename


def hide_columns(*names: str) -> Organize:
    """An `organize` transformation that hides the given table columns."""
    return {"id": "organize", "options": {"excludeByName": {name: True for name in names}}}


def merge() -> Merge:
    """Joins the tables of several instant queries into one, rows matched on their common label columns."""
    return {"id": "merge", "options": {}}


def columns(hidden: Sequence[str], shown: Sequence[tuple[str, str]]) -> Rename:
    """Hides `hidden` columns and shows `shown` (column, title) in that order: after `merge`, `Value #A` etc."""
    return {
        "id": "organize",
        "options": {
            "excludeByName": {name: True for name in hidden},
            "renameByName": {name: title for name, title in shown if title != name},
            "indexByName": {name: i for i, (name, _) in enumerate(shown)},
        },
    }


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
    overrides: list[Override] = field(default_factory=list)
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
    overrides: Sequence[Override] = (),
) -> Panel:
    """One big number per series; with `thresholds` the background takes the step's colour."""
    defaults: FieldDefaults = {}
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = list[DisplayMapping](mappings)
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
        overrides=list(overrides),
        options={
            "reduceOptions": LAST_VALUE,
            "textMode": text_mode,
            "colorMode": "background" if thresholds else "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
        },
    )


TrendKind = Literal["relative", "points"]
"""`relative`: the change in % of the earlier value (counts, amounts). `points`: the change of a ratio in
percentage points (a share going from 20 % to 25 % is +5 pp, not +25 %)."""

NO_COMPARISON = "no comparison yet"
GREY = "#8e8e8e"


@dataclass(frozen=True)
class Trend:
    """How a card compares its value with the same moment one trend period earlier."""

    kind: TrendKind = "relative"
    up_is_good: bool = True
    """Green when the value rose (orders); False: red when it rose (out-of-stock products)."""


def trend_expr(value: Expr, kind: TrendKind = "relative") -> str:
    """The change of `value` against one trend period earlier, per series, labelled with its direction.

    Each series gets a `trend` label: `▲ vs. $trend_period ago`, `▼ …` or `= …`, and its value is the
    change (in % of the earlier value, or in percentage points). A series without a value that old
    is NaN with the plain label, so the card says "no comparison yet" rather than a made-up 0 %. A
    count that grew from 0 is +Inf ("new (was 0)").
    """
    now, then = f"({value('')})", f"({value(THEN)})"
    change = f"100 * ({now} - {then}) / {then}" if kind == "relative" else f"100 * ({now} - {then})"

    def tagged(expr: str, text: str) -> str:
        return f'label_replace({expr}, "trend", "{text}vs. $trend_period ago", "", "")'

    return " or ".join(
        (
            tagged(f"({change}) and {now} > {then}", "▲ "),
            tagged(f"({change}) and {now} < {then}", "▼ "),
            tagged(f"0 * {now} and {now} == {then}", "= "),
            tagged(f"{now} * NaN unless {then}", ""),
        )
    )


def trend_override(ref: str, trend: Trend) -> Override:
    """The trend field of a card: percent (or points), green/red by direction, "no comparison yet" for NaN."""
    good, bad = ("green", "red") if trend.up_is_good else ("red", "green")
    mappings: list[DisplayMapping] = [
        {
            "type": "special",
            "options": {"match": "null+nan", "result": {"text": NO_COMPARISON, "color": GREY, "index": 0}},
        },
        {
            "type": "value",
            "options": {
                "Infinity": {"text": "new (was 0)", "color": good, "index": 1},
                "-Infinity": {"text": "new (was 0)", "color": bad, "index": 2},
            },
        },
    ]
    steps: list[ThresholdStep] = [
        {"color": bad, "value": None},
        {"color": GREY, "value": 0},
        {"color": good, "value": 1e-9},
    ]
    return {
        "matcher": {"id": "byFrameRefID", "options": ref},
        "properties": [
            {"id": "unit", "value": "percent" if trend.kind == "relative" else "suffix: pp"},
            {"id": "decimals", "value": 1},
            {"id": "mappings", "value": mappings},
            {"id": "thresholds", "value": {"mode": "absolute", "steps": steps}},
            {"id": "color", "value": {"mode": "thresholds"}},
            {"id": "noValue", "value": NO_COMPARISON},
        ],
    }


def card(
    title: str,
    description: str,
    unit: str,
    value: Expr,
    legend: str,
    *,
    trend: Trend = Trend(),  # frozen: one shared default is safe
    w: int = 4,
    h: int = 5,
    decimals: int | None = None,
) -> Panel:
    """A stat card: the value now (query A) and its change against one trend period earlier (query B).

    The trend field is named after the value's legend plus its direction (`main ▲ vs. 7d ago`).
    """
    trend_legend = f"{legend} {{{{trend}}}}" if "{{" in legend else "{{trend}}"
    change = "in percentage points" if trend.kind == "points" else "in % of the earlier value"
    return stat(
        title,
        f"{description} Beside it: the change against the same moment $trend_period earlier ({change}).",
        unit,
        [target(value(""), legend), target(trend_expr(value, trend.kind), trend_legend, instant=True, ref="B")],
        w=w,
        h=h,
        decimals=decimals,
        overrides=[trend_override("B", trend)],
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
            "mappings": list[DisplayMapping](mappings),
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


class CustomOption(TypedDict):
    selected: bool
    text: str
    value: str


class CustomSelection(TypedDict):
    selected: bool
    text: str
    value: str


class CustomVariable(TypedDict):
    type: Literal["custom"]
    name: str
    label: str
    description: str
    query: str
    current: CustomSelection
    options: list[CustomOption]
    multi: bool
    includeAll: bool
    hide: int
    skipUrlSync: bool


Variable = DatasourceVariable | QueryVariable | CustomVariable


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


def custom_variable(
    name: str, label: str, values: Sequence[str], default: str, *, description: str = ""
) -> CustomVariable:
    """A fixed list of values to pick one from (`default` first selected)."""
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "description": description,
        "query": ",".join(values),
        "current": {"selected": True, "text": default, "value": default},
        "options": [{"selected": value == default, "text": value, "value": value} for value in values],
        "multi": False,
        "includeAll": False,
        "hide": 0,
        "skipUrlSync": False,
    }


TREND_PERIODS = ("1d", "7d", "14d", "28d")


def trend_variable() -> CustomVariable:
    """`$trend_period`: how far back every card compares; 7 days unless the user picks another."""
    return custom_variable(
        TREND_PERIOD,
        "Compare with",
        TREND_PERIODS,
        "7d",
        description="Each card shows the change against the same moment this long ago. Prometheus must keep "
        "data that old (its retention, 15d by default); otherwise the card says no comparison yet.",
    )


# --- layout -----------------------------------------------------------------------------------


class GridPos(TypedDict):
    h: int
    w: int
    x: int
    y: int


class FieldConfig(TypedDict):
    defaults: FieldDefaults
    overrides: list[Override]


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
            "fieldConfig": {"defaults": defaults, "overrides": item.overrides},
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
