"""Grafana dashboards read as Grafana runs them: variables resolved and queries executed on a real Prometheus.

`check_dashboard` reports, in words, every variable that resolves to no value and every query that
returns no series, names a metric or label no scraped series has, groups by a label nobody has, or
shows a legend label its series lack. Only the Prometheus HTTP API is used, as Grafana's Prometheus
datasource does (label values with `match[]`, instant and range queries).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser

from tests.support.processes import PrometheusServer

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"

Json = dict[str, Any]

_REFERENCE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.*),\s*)?(?P<label>[a-zA-Z_]\w*)\s*\)\s*$", re.S)
_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}")
_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")

MAY_BE_EMPTY = {
    "commerce_exporter_provider_load_failures_total": "children appear only once a provider failed to load",
}
"""Counters whose series appear only after a fault; Prometheus must still know the family (metadata)."""


def load_dashboards(directory: Path = DASHBOARD_DIR) -> dict[str, Json]:
    """Every dashboard JSON file by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


def iter_panels(board: Json) -> Iterator[tuple[Json, str | None]]:
    """Every non-row panel with the variable it repeats over (its own `repeat` or its row's), in order."""
    row_repeat: str | None = None
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            row_repeat = panel.get("repeat") or None
            for inner in panel.get("panels", []):  # a collapsed row keeps its panels inside
                yield inner, inner.get("repeat") or row_repeat
            continue
        yield panel, panel.get("repeat") or row_repeat


def references(text: str) -> set[str]:
    """Names of the variables `text` uses ($x, ${x}, ${x:fmt}, [[x]]); `$1` is a regex group, not a variable."""
    names = {next(g for g in match.groups() if g) for match in _REFERENCE.finditer(text)}
    return {name for name in names if not name.isdigit()}


@dataclass(frozen=True)
class TimeRange:
    """The dashboard time range of one check, and the built-in interval variables Grafana derives from it."""

    start: float
    end: float
    step: float
    scrape_interval: float

    @property
    def builtins(self) -> dict[str, str]:
        seconds = self.end - self.start
        # Grafana: $__rate_interval = max($__interval + scrape interval, 4 × scrape interval).
        rate = max(self.step + self.scrape_interval, 4 * self.scrape_interval)
        return {
            "__interval": f"{int(self.step)}s",
            "__interval_ms": str(int(self.step * 1000)),
            "__rate_interval": f"{int(rate)}s",
            "__range": f"{int(seconds)}s",
            "__range_s": str(int(seconds)),
            "__range_ms": str(int(seconds * 1000)),
        }


@dataclass
class Variable:
    """One resolved template variable: every value its query returned and those selected."""

    name: str
    multi: bool
    values: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)


def interpolate(text: str, variables: Mapping[str, Variable], builtins: Mapping[str, str]) -> str:
    """Replaces variable references like Grafana's Prometheus datasource does (regex-escaped when multi)."""

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in (match.group(1), match.group(3), match.group(4)) if g)
        if name.isdigit():  # `$1` in a label_replace replacement: Grafana leaves unknown names as they are
            return match.group(0)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            raise KeyError(f"${name} is not a variable of this dashboard")
        variable = variables[name]
        values = variable.selected
        if match.group(2) == "text" or not variable.multi:
            return values[0].replace("\\", "\\\\") if values else ""
        escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", value) for value in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    return _REFERENCE.sub(replace, text)


def _apply_regex(values: Sequence[str], regex: str) -> list[str]:
    """Grafana's variable regex: keep matching values; a capture group (or `value` group) becomes the value."""
    if not regex:
        return list(values)
    body, _, flags = regex[1:].rpartition("/") if regex.startswith("/") else (regex, "", "")
    pattern = re.compile(body, re.I if "i" in flags else 0)
    kept = []
    for value in values:
        match = pattern.search(value)
        if not match:
            continue
        groups = match.groupdict()
        if groups.get("value") is not None:
            kept.append(groups["value"])
        elif match.groups():
            kept.append(next(g for g in match.groups() if g is not None))
        else:
            kept.append(value)
    return kept


def _sort(values: list[str], mode: int) -> list[str]:
    unique = list(dict.fromkeys(values))
    if mode in (1, 5):
        return sorted(unique)
    if mode in (2, 6):
        return sorted(unique, reverse=True)
    if mode in (3, 4):
        numbers = sorted(unique, key=lambda v: float(re.sub(r"[^0-9.\-]", "", v) or 0))
        return numbers if mode == 3 else numbers[::-1]
    return unique


def _query_text(variable: Json) -> str:
    query = variable.get("query")
    if isinstance(query, dict):
        return str(query.get("query", ""))
    return str(query or variable.get("definition") or "")


class Checker:
    """Runs one dashboard's variables and queries against a Prometheus; collects problems as sentences."""

    def __init__(self, prometheus: PrometheusServer, time_range: TimeRange) -> None:
        self.prometheus = prometheus
        self.range = time_range
        self.problems: list[str] = []
        self._series_cache: dict[str, list[dict[str, str]]] = {}
        self.queries_run = 0

    # -- Prometheus --------------------------------------------------------------------------

    def _window(self) -> dict[str, str]:
        return {"start": f"{self.range.start:.3f}", "end": f"{self.range.end:.3f}"}

    def series(self, selector: str) -> list[dict[str, str]]:
        if selector not in self._series_cache:
            data = self.prometheus.api("series", **{"match[]": selector}, **self._window())
            self._series_cache[selector] = list(data)
        return self._series_cache[selector]

    def known_family(self, metric: str) -> bool:
        """Prometheus has HELP/TYPE for the metric (OpenMetrics family names drop `_total`)."""
        return any(self.prometheus.api("metadata", metric=name) for name in (metric, metric.removesuffix("_total")))

    # -- variables ---------------------------------------------------------------------------

    def resolve_variables(self, board: Json, where: str) -> dict[str, Variable]:
        resolved: dict[str, Variable] = {}
        builtins = self.range.builtins
        for spec in board.get("templating", {}).get("list", []):
            name = spec["name"]
            kind = spec.get("type")
            if kind == "datasource":
                if spec.get("query") != "prometheus":
                    self.problems.append(f"{where}: datasource variable ${name} is not for Prometheus")
                continue
            if kind == "custom":
                values = [v.strip() for v in str(spec.get("query", "")).split(",") if v.strip()]
                current = (spec.get("current") or {}).get("value")
                if not values:
                    self.problems.append(f"{where}: custom variable ${name} has no value")
                elif current not in values:
                    self.problems.append(f"{where}: custom variable ${name} selects {current!r}, not one of {values}")
                resolved[name] = Variable(name, False, values, [current] if current in values else values[:1])
                continue
            if kind != "query":
                self.problems.append(f"{where}: variable ${name} has type {kind!r}, which this check cannot run")
                continue
            text = interpolate(_query_text(spec), resolved, builtins)
            match = _LABEL_VALUES.match(text)
            if not match:
                self.problems.append(f"{where}: variable ${name} query {text!r} is not label_values(…)")
                continue
            params = {"match[]": match["selector"]} if match["selector"] else {}
            raw = self.prometheus.api(f"label/{match['label']}/values", **params, **self._window())
            values = _sort(_apply_regex([str(v) for v in raw], spec.get("regex") or ""), int(spec.get("sort", 0)))
            multi = bool(spec.get("multi") or spec.get("includeAll"))
            if not values:
                self.problems.append(f"{where}: variable ${name} ({text}) resolves to no value")
            current = spec.get("current") or {}
            wants_all = multi and "$__all" in (current.get("value") or [])
            selected = values if wants_all else values[:1]
            resolved[name] = Variable(name, multi, values, selected)
        return resolved

    # -- queries -----------------------------------------------------------------------------

    def check_expr(self, expr: str, where: str, *, instant: bool, legend: str = "") -> None:
        try:
            ast = promql_parser.parse(expr)
        except ValueError as err:
            self.problems.append(f"{where}: does not parse: {err} in {expr!r}")
            return
        self.check_selectors(ast, where)
        if instant:
            result = self.prometheus.api("query", query=expr, time=f"{self.range.end:.3f}")["result"]
        else:
            result = self.prometheus.api("query_range", query=expr, step=f"{self.range.step:g}", **self._window())[
                "result"
            ]
        self.queries_run += 1
        if not result:
            self.problems.append(f"{where}: no series for {expr!r}")
            return
        if isinstance(result, list) and result and isinstance(result[0], dict):
            for label in _LEGEND_LABEL.findall(legend):
                if not all(label in series.get("metric", {}) for series in result):
                    self.problems.append(f"{where}: legend uses {{{{{label}}}}}, which its series lack, in {expr!r}")

    def check_selectors(self, ast: Any, where: str) -> None:
        selectors: list[Any] = []
        groupings: list[str] = []
        created: set[str] = set()

        def visit(node: Any) -> None:
            if isinstance(node, promql_parser.VectorSelector):
                selectors.append(node)
            elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
                groupings.extend(node.modifier.labels)
            elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
                modifier = node.modifier
                if modifier.matching is not None:
                    groupings.extend(modifier.matching.labels)
                groupings.extend(modifier.group_labels or [])
            elif isinstance(node, promql_parser.Call) and node.func.name in ("label_replace", "label_join"):
                created.add(node.args[1].val)

        promql_parser.walk(ast, visit)
        present: set[str] = set(created)
        for node in selectors:
            matchers = list(node.matchers.matchers)
            parts = [f"{m.name}{_OPS[str(m.op)]}{json.dumps(m.value, ensure_ascii=False)}" for m in matchers]
            selector = (node.name or "") + "{" + ", ".join(parts) + "}"
            found = self.series(selector)
            if not found:
                name = node.name or ""
                if name in MAY_BE_EMPTY and self.known_family(name):
                    continue
                self.problems.append(f"{where}: selector {selector} matches no scraped series")
                continue
            keys = {key for series in found for key in series}
            present |= keys
            for matcher in matchers:
                if matcher.name != "__name__" and matcher.name not in keys:
                    self.problems.append(f"{where}: label {matcher.name!r} is on no series of {selector}")
        for label in groupings:
            if label not in present:
                self.problems.append(f"{where}: groups or matches on label {label!r}, which no selected series has")

    def check_dashboard(self, board: Json, name: str) -> list[str]:
        """Every variable resolves and every query returns series; returns this dashboard's problems."""
        before = len(self.problems)
        variables = self.resolve_variables(board, name)
        builtins = self.range.builtins
        for panel, repeat in iter_panels(board):
            if repeat and repeat not in variables:
                self.problems.append(f"{name}: panel {panel.get('title')!r} repeats over unknown ${repeat}")
                continue
            # A repeated panel is one copy per selected value, each with that single value.
            scopes = (
                [variables]
                if not repeat
                else [
                    {**variables, repeat: Variable(repeat, True, variables[repeat].values, [value])}
                    for value in variables[repeat].selected
                ]
            )
            for scope in scopes:
                title = interpolate(str(panel.get("title", "")), scope, builtins)
                for target in panel.get("targets", []):
                    where = f"{name}: panel {title!r} query {target.get('refId')}"
                    try:
                        expr = interpolate(target["expr"], scope, builtins)
                    except KeyError as err:
                        self.problems.append(f"{where}: {err.args[0]}")
                        continue
                    self.check_expr(
                        expr, where, instant=bool(target.get("instant")), legend=str(target.get("legendFormat", ""))
                    )
        return self.problems[before:]


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def edit_first_expr(board: Json, change: Callable[[str], str]) -> str:
    """Applies `change` to the first query it alters; returns the altered expression (test helper)."""
    for panel, _ in iter_panels(board):
        for target in panel.get("targets", []):
            changed = change(target["expr"])
            if changed != target["expr"]:
                target["expr"] = changed
                return changed
    raise LookupError("no query was changed")
