"""Structure of the bundled Grafana dashboards: loadable as they are, one datasource variable, units everywhere.

Each check is a function returning problems as sentences, run on every dashboard, and shown once to
catch a deliberately broken copy.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from grafana.builders import trend_expr
from tests.support.dashboard_queries import DASHBOARD_DIR, ROOT, iter_panels, load_dashboards, references
from tests.support.processes import promtool

Json = dict[str, Any]
DASHBOARDS = load_dashboards()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
PANEL_TYPES = {"stat", "timeseries", "table", "bargauge", "state-timeline", "gauge", "text", "piechart"}
BUILTINS = {"__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms"}
LABEL_VALUES = re.compile(r"^label_values\((?:.+,\s*)?[a-zA-Z_]\w*\)$", re.S)


def _walk(node: Any) -> Any:
    """Every string in a JSON document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
    elif isinstance(node, str):
        yield node


def _variables(board: Json) -> list[Json]:
    return list(board.get("templating", {}).get("list", []))


# --- checks -----------------------------------------------------------------------------------


def top_level_problems(board: Json) -> list[str]:
    problems = []
    for key, kind in (
        ("uid", str),
        ("title", str),
        ("schemaVersion", int),
        ("panels", list),
        ("templating", dict),
        ("time", dict),
        ("tags", list),
    ):
        if not isinstance(board.get(key), kind):
            problems.append(f"{key} missing or not a {kind.__name__}")
    if isinstance(board.get("uid"), str) and not UID.match(board["uid"]):
        problems.append(f"uid {board['uid']!r} is not 1-40 letters, digits, - or _")
    if "id" in board and board["id"] is not None:
        problems.append("a numeric id is set (Grafana assigns it; provisioning and import want none)")
    if "commerce-exporter" not in board.get("tags", []):
        problems.append("the tag commerce-exporter is missing (dashboard links use it)")
    return problems


def placeholder_problems(board: Json) -> list[str]:
    problems = [f"{key} present (export-for-sharing placeholder)" for key in ("__inputs", "__requires") if key in board]
    problems += [f"placeholder {text!r}" for text in _walk(board) if "${DS_" in text or "$DS_" in text]
    return problems


def datasource_variable_problems(board: Json) -> list[str]:
    sources = [v for v in _variables(board) if v.get("type") == "datasource"]
    if len(sources) != 1:
        return [f"{len(sources)} datasource variables, expected 1"]
    (source,) = sources
    problems = []
    if source.get("name") != "datasource" or source.get("query") != "prometheus":
        problems.append("the datasource variable must be $datasource of type prometheus")
    if _variables(board)[0] is not source:
        problems.append("the datasource variable must come first (other variables query through it)")
    return problems


def datasource_use_problems(board: Json) -> list[str]:
    problems = []
    for panel, _ in iter_panels(board):
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"panel {panel.get('title')!r} datasource is {panel.get('datasource')!r}")
        for target in panel.get("targets", []):
            if target.get("datasource") != DATASOURCE:
                problems.append(f"panel {panel.get('title')!r} query {target.get('refId')} datasource")
    for variable in _variables(board):
        if variable.get("type") == "query" and variable.get("datasource") != DATASOURCE:
            problems.append(f"variable ${variable['name']} datasource is {variable.get('datasource')!r}")
    return problems


def panel_text_problems(board: Json) -> list[str]:
    problems = []
    for panel, _ in iter_panels(board):
        title = panel.get("title")
        if not title:
            problems.append(f"panel {panel.get('id')} has no title")
        if not str(panel.get("description", "")).strip():
            problems.append(f"panel {title!r} has no description")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"panel {title!r} has no unit")
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"panel {title!r} has type {panel.get('type')!r}, not a core panel")
    return problems


def query_problems(board: Json) -> list[str]:
    problems = []
    for panel, _ in iter_panels(board):
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {panel.get('title')!r} has no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            problems.append(f"panel {panel.get('title')!r} repeats a refId: {refs}")
        for target in targets:
            expr = str(target.get("expr", ""))
            # Any value will do for parsing: ranges need a duration, everything else a word.
            sample = re.sub(r"\$\{?__\w*interval\}?|\$\{?__range\}?|(?<=offset )\$\{?\w+\}?", "5m", expr)
            sample = re.sub(r"\$\{(\w+)(:\w+)?\}|\$(\w+)", "x", sample)
            try:
                promql_parser.parse(sample)
            except ValueError as err:
                problems.append(f"panel {panel.get('title')!r} query {target.get('refId')} does not parse: {err}")
    return problems


def variable_problems(board: Json) -> list[str]:
    problems = []
    defined: list[str] = []
    for variable in _variables(board):
        name = variable.get("name", "")
        if variable.get("type") == "query":
            query = variable.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            if not LABEL_VALUES.match(str(text)):
                problems.append(f"${name} query {text!r} is not label_values(…)")
            if variable.get("definition") != text:
                problems.append(f"${name} definition differs from its query")
            if variable.get("refresh") != 2:
                problems.append(f"${name} refresh is {variable.get('refresh')!r}, expected 2 (on time range change)")
            unknown = references(str(text)) - set(defined)
            if unknown:
                problems.append(f"${name} uses {sorted(unknown)} before they are defined")
        elif variable.get("type") == "custom":
            values = [v.strip() for v in str(variable.get("query", "")).split(",")]
            options = [o.get("value") for o in variable.get("options", [])]
            current = (variable.get("current") or {}).get("value")
            if options != values:
                problems.append(f"${name} options {options} differ from its query {values}")
            if current not in values:
                problems.append(f"${name} selects {current!r}, which is not one of {values}")
        defined.append(name)
    return problems


def reference_problems(board: Json) -> list[str]:
    """Every $reference is a defined variable or a Grafana built-in; every variable is used."""
    defined = {v.get("name") for v in _variables(board)}
    used: set[str] = {"datasource"}
    texts: list[str] = []
    for panel, repeat in iter_panels(board):
        texts.append(str(panel.get("title", "")))
        texts += [str(t.get("expr", "")) for t in panel.get("targets", [])]
        if repeat:
            used.add(repeat)
    texts += [str(p.get("title", "")) for p in board.get("panels", []) if p.get("type") == "row"]
    for variable in _variables(board):
        query = variable.get("query")
        texts.append(str(query.get("query") if isinstance(query, dict) else query))
    problems = []
    for text in texts:
        refs = references(text)
        used |= refs
        for name in sorted(refs - defined - BUILTINS):
            problems.append(f"${name} in {text[:80]!r} is not a variable")
    problems += [f"variable ${name} is never used" for name in sorted(defined - used)]
    return problems


def layout_problems(board: Json) -> list[str]:
    problems = []
    ids = [p.get("id") for p in board.get("panels", [])]
    if len(set(ids)) != len(ids):
        problems.append("panel ids are not unique")
    boxes = []
    for panel in board.get("panels", []):
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)) or x < 0 or w < 1 or h < 1 or x + w > 24:
            problems.append(f"panel {panel.get('title')!r} gridPos {grid} is outside the 24-column grid")
            continue
        for other_title, (ox, oy, ow, oh) in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f"panel {panel.get('title')!r} overlaps {other_title!r}")
        boxes.append((panel.get("title"), (x, y, w, h)))
    return problems


CHECKS: dict[str, Callable[[Json], list[str]]] = {
    "top level": top_level_problems,
    "no placeholders": placeholder_problems,
    "datasource variable": datasource_variable_problems,
    "datasource everywhere": datasource_use_problems,
    "title, description, unit": panel_text_problems,
    "queries": query_problems,
    "variables": variable_problems,
    "references": reference_problems,
    "layout": layout_problems,
}


# --- tests ------------------------------------------------------------------------------------


def test_four_dashboards_are_bundled() -> None:
    """The platform overview, vendor, merchant and exporter-health dashboards are in grafana/dashboards/."""
    assert sorted(DASHBOARDS) == ["exporter-health.json", "merchant.json", "platform-overview.json", "vendor.json"]


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_structure(name: str, check: str) -> None:
    """Each dashboard passes each structural check."""
    problems = CHECKS[check](DASHBOARDS[name])
    assert not problems, "\n".join(problems)


def test_uids_and_titles_are_unique_and_stable() -> None:
    """Dashboard uids (links and provisioning rely on them) are fixed and distinct, and so are titles."""
    assert {name: board["uid"] for name, board in DASHBOARDS.items()} == {
        "exporter-health.json": "commerce-exporter-health",
        "merchant.json": "commerce-merchant",
        "platform-overview.json": "commerce-platform-overview",
        "vendor.json": "commerce-vendor",
    }
    titles = [board["title"] for board in DASHBOARDS.values()]
    assert len(set(titles)) == len(titles)


def test_vendor_names_come_from_the_info_metric() -> None:
    """The overview's top-vendor panels and the vendor dashboard take names from commerce_vendor_info."""
    overview = [
        t
        for p, _ in iter_panels(DASHBOARDS["platform-overview.json"])
        for t in p["targets"]
        if "Top vendors" in p["title"]
    ]
    assert overview and all("group_left (name) commerce_vendor_info" in t["expr"] for t in overview)
    assert all("{{name}}" in t["legendFormat"] for t in overview)
    (vendor,) = [p for p, _ in iter_panels(DASHBOARDS["vendor.json"]) if p["title"] == "Vendor"]
    assert vendor["targets"][0]["expr"].startswith("commerce_vendor_info{")


TRENDED = ("merchant.json", "platform-overview.json", "vendor.json")
"""Dashboards whose stat cards show a trend."""


def trend_problems(board: Json) -> list[str]:
    """Every stat card that shows a figure has a trend: an instant query reading the same value
    `offset $trend_period` earlier, shown as a percentage (or points) that says "no comparison yet"
    when there is nothing that old; the dashboard lets the user pick the period, 7 days by default."""
    problems = []
    (period,) = [v for v in _variables(board) if v.get("name") == "trend_period"] or [{}]
    if period.get("type") != "custom" or (period.get("current") or {}).get("value") != "7d":
        problems.append("no $trend_period custom variable defaulting to 7d")
    for panel, _ in iter_panels(board):
        if panel.get("type") != "stat" or panel.get("options", {}).get("textMode") == "name":
            continue  # a name card (the vendor's name) has no figure to compare
        title = panel.get("title")
        targets = panel.get("targets", [])
        trends = [t for t in targets if "offset $trend_period" in t.get("expr", "")]
        if len(targets) != 2 or len(trends) != 1:
            problems.append(f"card {title!r} has no value query and trend query pair")
            continue
        (trend,) = trends
        (value,) = [t for t in targets if t is not trend]
        if not trend.get("instant"):
            problems.append(f"card {title!r}: the trend query is not instant")
        if value["expr"] not in trend["expr"] or value["expr"].replace(" ", "") == "":
            problems.append(f"card {title!r}: the trend query does not compare the value query")
        overrides = {
            o["matcher"]["options"]: {prop["id"]: prop["value"] for prop in o["properties"]}
            for o in panel.get("fieldConfig", {}).get("overrides", [])
            if o.get("matcher", {}).get("id") == "byFrameRefID"
        }
        settings = overrides.get(trend["refId"], {})
        if settings.get("unit") not in ("percent", "suffix: pp"):
            problems.append(f"card {title!r}: the trend is not shown in percent or points")
        special = [m for m in settings.get("mappings", []) if m.get("type") == "special"]
        if settings.get("noValue") != "no comparison yet" or not any(
            m["options"]["match"] == "null+nan" and m["options"]["result"]["text"] == "no comparison yet"
            for m in special
        ):
            problems.append(f"card {title!r}: no data that old would not say no comparison yet")
        if "{{trend}}" not in trend.get("legendFormat", ""):
            problems.append(f"card {title!r}: the trend's direction is not in its name")
    return problems


@pytest.mark.parametrize("name", TRENDED)
def test_every_card_shows_a_trend(name: str) -> None:
    """Each stat card of the platform, vendor and merchant dashboards compares with one trend period earlier."""
    problems = trend_problems(DASHBOARDS[name])
    assert not problems, "\n".join(problems)
    assert sum(p["type"] == "stat" for p, _ in iter_panels(DASHBOARDS[name])) >= 8


def test_trend_check_catches_a_card_without_comparison() -> None:
    """A card whose trend query lost its offset, or its no-comparison mapping, is reported."""
    board = copy.deepcopy(DASHBOARDS["merchant.json"])
    cards = [p for p, _ in iter_panels(board) if p["type"] == "stat"]
    cards[0]["targets"][1]["expr"] = cards[0]["targets"][1]["expr"].replace("offset $trend_period", "")
    cards[1]["fieldConfig"]["overrides"][0]["properties"] = [
        prop for prop in cards[1]["fieldConfig"]["overrides"][0]["properties"] if prop["id"] != "mappings"
    ]
    problems = trend_problems(board)
    assert any(repr(cards[0]["title"]) in p for p in problems), problems
    assert any(repr(cards[1]["title"]) in p and "no comparison" in p for p in problems), problems


def test_merchant_queries_select_the_merchant_through_the_info_series() -> None:
    """Every merchant panel query reads the merchant's vendors through commerce_vendor_info{merchant="$merchant"}."""
    for panel, _ in iter_panels(DASHBOARDS["merchant.json"]):
        for target in panel["targets"]:
            assert 'commerce_vendor_info{platform=~"$platform", merchant="$merchant"' in target["expr"], (
                panel["title"],
                target["refId"],
            )


BROKEN: dict[str, tuple[str, Callable[[Json], None]]] = {
    "placeholder datasource": (
        "no placeholders",
        lambda b: b["panels"][1].update(datasource={"uid": "${DS_PROMETHEUS}"}),
    ),
    "panel without unit": ("title, description, unit", lambda b: b["panels"][1]["fieldConfig"]["defaults"].pop("unit")),
    "fixed datasource uid": (
        "datasource everywhere",
        lambda b: b["panels"][1]["targets"][0].update(datasource={"uid": "abc"}),
    ),
    "variable not refreshed on time change": ("variables", lambda b: b["templating"]["list"][1].update(refresh=1)),
    "undefined variable": ("references", lambda b: b["panels"][1]["targets"][0].update(expr='up{job="$jobb"}')),
    "overlapping panels": ("layout", lambda b: b["panels"][2].update(gridPos=dict(b["panels"][1]["gridPos"]))),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_checks_catch_a_broken_copy(breakage: str) -> None:
    """A structural check reports the defect it exists for in an otherwise good dashboard."""
    check, breaker = BROKEN[breakage]
    board = copy.deepcopy(DASHBOARDS["exporter-health.json"])
    assert not CHECKS[check](board)
    breaker(board)
    assert CHECKS[check](board)


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grafana", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_generated_files_are_up_to_date() -> None:
    """grafana/dashboards/*.json are exactly what `python -m grafana` writes (edit the modules, not the JSON)."""
    result = _generate("--check")
    assert result.returncode == 0, result.stderr
    assert DASHBOARD_DIR.is_dir()


def test_check_names_a_changed_and_a_missing_file(tmp_path: Path) -> None:
    """`python -m grafana --check` fails on a copy with one file edited and one deleted, naming both."""
    for path in DASHBOARD_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    assert _generate("--check", "--directory", str(tmp_path)).returncode == 0
    edited = tmp_path / "vendor.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"Vendor"', '"Vendors"', 1), encoding="utf-8")
    (tmp_path / "exporter-health.json").unlink()
    result = _generate("--check", "--directory", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == "out of date (run python -m grafana): vendor.json, exporter-health.json\n"
    assert not (tmp_path / "exporter-health.json").exists(), "--check must not write"


@pytest.mark.prometheus
def test_trend_expression_reads_up_down_same_new_and_no_comparison(tmp_path: Path) -> None:
    """The trend of a series that rose, fell, stayed, grew from 0, or did not exist a period earlier, as
    Prometheus evaluates it: ▲ +25 %, ▼ -50 %, = 0, ▲ +Inf, and NaN with no direction ("no comparison yet")."""
    expr = trend_expr(lambda o: f'm{{job="x"}}{o}').replace("$trend_period", "1d")
    series = {"up": "100 125", "down": "100 50", "same": "0 0", "new": "0 3", "young": "_ 7"}
    expected = [
        ("up", "▲", 25.0),
        ("down", "▼", -50.0),
        ("same", "=", 0.0),
        ("new", "▲", float("inf")),
    ]
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1d",
                "input_series": [{"series": f'm{{job="x", s="{name}"}}', "values": v} for name, v in series.items()],
                "promql_expr_test": [
                    {
                        "expr": f"({expr}) == ({expr})",  # NaN != NaN: the comparable ones
                        "eval_time": "1d",
                        "exp_samples": [
                            {"labels": f'{{job="x", s="{name}", trend="{arrow} vs. 1d ago"}}', "value": value}
                            for name, arrow, value in expected
                        ],
                    },
                    {
                        "expr": f"count by (s, trend) (({expr}) != ({expr}))",  # the NaN ones
                        "eval_time": "1d",
                        "exp_samples": [{"labels": '{s="young", trend="vs. 1d ago"}', "value": 1}],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "trend.test.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
