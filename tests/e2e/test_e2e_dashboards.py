"""End to end: a real Prometheus scrapes the demo exporter; every dashboard query and variable has data.

One exporter and one Prometheus (the shipped scrape config and rule files, 1s intervals) serve the
whole module, so the module costs one start-up and a few seconds of scrapes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from grafana import pictures
from grafana.history import business_series, history
from tests.support.dashboard_queries import (
    Checker,
    TimeRange,
    edit_first_expr,
    interpolate,
    iter_panels,
    load_dashboards,
)
from tests.support.processes import ExporterProcess, PrometheusServer

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "config" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
DASHBOARDS = load_dashboards()
SCRAPES = 5
"""Scrapes to wait for: enough for rate() and delta() over the interval variables."""

TREND_PERIOD = 7 * 86400
"""The dashboards' default $trend_period, in seconds."""
OUT_OF_STOCK_THRESHOLD = 0.25
IMPORT_SUCCESS_THRESHOLD = 0.8
"""The business thresholds of config/prometheus/rules/commerce-business.rules.yml, restated."""


class Stack:
    """The running exporter and Prometheus of this module."""

    def __init__(self, exporter: ExporterProcess, prometheus: PrometheusServer) -> None:
        self.exporter = exporter
        self.prometheus = prometheus

    def checker(self) -> Checker:
        end = time.time()
        return Checker(self.prometheus, TimeRange(start=end - 60, end=end, step=2, scrape_interval=1))


def shipped_scrape_config(target: str) -> dict[str, Any]:
    """config/prometheus/prometheus.yml with the demo exporter as target and 1s intervals."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config.pop("rule_files", None)  # PrometheusServer lists the rule files with absolute paths
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [target]}])
    return dict(config)


def week_old_history(exporter: ExporterProcess, job: str) -> str:
    """The exporter's business series written around one trend period (7 days) ago, as Prometheus would have them.

    Samples every minute from 10 minutes before to 30 minutes after "now − 7d", so that
    `offset 7d` finds a sample within Prometheus' 5-minute lookback for the whole module.
    """
    status, _, body = exporter.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    now = time.time()
    moments = [now - TREND_PERIOD + minutes * 60 for minutes in range(-10, 31)]
    labels = {"job": job, "instance": f"127.0.0.1:{exporter.port}"}
    return history(business_series(body.decode()), moments, now, labels)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e-dashboards")
    exporter = ExporterProcess(tmp, args=["--demo"], env={"COMMERCE_DEMO_DB": str(tmp / "demo.sqlite")})
    prometheus: PrometheusServer | None = None
    try:
        exporter.wait_ready()
        config = shipped_scrape_config(f"127.0.0.1:{exporter.port}")
        past = week_old_history(exporter, config["scrape_configs"][0]["job_name"])
        prometheus = PrometheusServer(tmp, config, rule_files=RULE_FILES, history=past)
        prometheus.wait_for(f'count_over_time(up{{job="commerce-exporter"}}[1m]) >= {SCRAPES}', timeout=60)
        yield Stack(exporter, prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        exporter.stop()


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_and_query_returns_data(stack: Stack, name: str) -> None:
    """Each variable resolves through its own query and each panel query returns series with real names."""
    checker = stack.checker()
    problems = checker.check_dashboard(copy.deepcopy(DASHBOARDS[name]), name)
    assert not problems, "\n".join(problems)
    assert checker.queries_run >= 10


TRENDED = ("merchant.json", "platform-overview.json", "vendor.json")


@pytest.mark.parametrize("name", TRENDED)
def test_trends_compare_with_the_week_old_data(stack: Stack, name: str) -> None:
    """With a week of history every card's trend is a real comparison (▲, ▼ or =), never "no comparison yet"."""
    checker = stack.checker()
    board = copy.deepcopy(DASHBOARDS[name])
    variables = checker.resolve_variables(board, name)
    assert not checker.problems, checker.problems
    compared = 0
    for panel, _ in iter_panels(board):
        for query in panel.get("targets", []):
            if "offset $trend_period" not in query["expr"]:
                continue
            expr = interpolate(query["expr"], variables, checker.range.builtins)
            result = stack.prometheus.api("query", query=expr, time=f"{checker.range.end:.3f}")["result"]
            assert result, f"{name}: {panel['title']}: no series"
            for series in result:
                direction = series["metric"]["trend"]
                assert direction[0] in "▲▼=", f"{name}: {panel['title']}: {series}"
                compared += 1
    assert compared >= 8


def test_the_merchant_picture_draws_every_panel(stack: Stack, tmp_path: Path) -> None:
    """`grafana.pictures` (what makes docs/images/*.png) draws each merchant panel from the Prometheus data."""
    end = time.time()
    drawn = pictures.render(
        DASHBOARDS["merchant.json"],
        pictures.Prometheus(stack.prometheus.url),
        pictures.TimeRange(end - 60, end, 2),
        tmp_path / "merchant.png",
    )
    assert drawn.empty == []
    assert drawn.panels == sum(1 for _ in iter_panels(DASHBOARDS["merchant.json"]))
    assert (tmp_path / "merchant.png").read_bytes().startswith(b"\x89PNG")


BREAKAGES = {
    "metric name": (
        lambda e: e.replace("commerce_platform_orders{", "commerce_platform_order{", 1),
        "commerce_platform_order{",
    ),
    "label name": (lambda e: e.replace('platform=~"', 'platfrom=~"', 1), "platfrom"),
    "grouping label": (lambda e: e.replace("max by (vendor, name)", "max by (vendr, name)", 1), "vendr"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_checker_reports_a_query_broken_on_purpose(stack: Stack, breakage: str) -> None:
    """A query naming a metric or label the exporter does not produce is reported by name."""
    change, culprit = BREAKAGES[breakage]
    board = copy.deepcopy(DASHBOARDS["platform-overview.json"])
    edit_first_expr(board, change)
    problems = stack.checker().check_dashboard(board, "platform-overview.json")
    assert problems and any(culprit in problem for problem in problems), problems


def test_checker_reports_a_variable_without_values(stack: Stack) -> None:
    """A variable whose label_values names a label the series lack resolves to nothing and is reported."""
    board = copy.deepcopy(DASHBOARDS["vendor.json"])
    (vendor,) = [v for v in board["templating"]["list"] if v["name"] == "vendor"]
    vendor["query"]["query"] = vendor["definition"] = 'label_values(commerce_vendor_info{platform="$platform"}, vendr)'
    problems = stack.checker().check_dashboard(board, "vendor.json")
    assert any("$vendor" in problem and "no value" in problem for problem in problems), problems


def test_checker_reports_a_legend_label_the_series_lack(stack: Stack) -> None:
    """A legend `{{label}}` that the query's series do not carry is reported."""
    board = copy.deepcopy(DASHBOARDS["exporter-health.json"])
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            target["legendFormat"] = target.get("legendFormat", "").replace("{{instance}}", "{{instnace}}")
    problems = stack.checker().check_dashboard(board, "exporter-health.json")
    assert any("instnace" in problem for problem in problems), problems


def _rules(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    return [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]


def test_shipped_rules_load_and_evaluate_without_errors(stack: Stack) -> None:
    """Prometheus loads every rule of the rule files and evaluates each one without an error."""
    expected = {
        rule["alert"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    deadline = time.monotonic() + 30
    rules = _rules(stack.prometheus)
    while any(rule["health"] == "unknown" for rule in rules) and time.monotonic() < deadline:
        time.sleep(0.5)
        rules = _rules(stack.prometheus)
    assert {rule["name"] for rule in rules} == expected
    assert [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


def test_rule_selectors_name_real_series(stack: Stack) -> None:
    """Every metric and label an alert expression selects exists in the demo exporter's scraped series."""
    checker = stack.checker()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                checker.check_selectors(promql_parser.parse(rule["expr"]), f"{path.name}: {rule['alert']}")
    assert not checker.problems, "\n".join(checker.problems)


def test_alerts_on_demo_data_match_the_thresholds(stack: Stack) -> None:
    """On the demo data exactly the business alerts its values cross are active, and no exporter alert."""
    status, _, body = stack.exporter.get("/metrics")
    assert status == 200
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if "platform" in sample.labels and "vendor" not in sample.labels:
                values.setdefault(sample.name, {})[sample.labels["platform"]] = sample.value
    expected = set()
    for platform, out in values["commerce_platform_inventory_out_of_stock"].items():
        active = values["commerce_platform_catalog_products_active"][platform]
        if active and out / active > OUT_OF_STOCK_THRESHOLD:
            expected.add(("CommerceOutOfStockShareHigh", platform))
    for platform, ratio in values.get("commerce_platform_marketplace_import_success_rate_ratio", {}).items():
        if ratio < IMPORT_SUCCESS_THRESHOLD:
            expected.add(("CommerceImportSuccessRatioLow", platform))

    deadline = time.monotonic() + 20
    while True:
        alerts = stack.prometheus.api("alerts")["alerts"]
        active = {(a["labels"]["alertname"], a["labels"].get("platform", "")) for a in alerts}
        if active == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert active == expected
