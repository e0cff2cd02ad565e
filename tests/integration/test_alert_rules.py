"""The bundled alert rules: promtool accepts and tests them, and each alert is documented and tested both ways."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import promtool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "config" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
RUNBOOK = ROOT / "docs" / "alerts.md"
SEVERITIES = {"critical", "warning", "info"}


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


ALERTS = _alerts()


def _output(result: Any) -> str:
    return (result.stdout + result.stderr).decode(errors="replace")


def test_rule_files_exist() -> None:
    """Both rule files and their tests are where the scrape config and the docs say."""
    assert [p.name for p in RULE_FILES] == ["commerce-business.rules.yml", "commerce-exporter.rules.yml"]
    assert [p.name for p in TEST_FILES] == ["commerce-business.test.yml", "commerce-exporter.test.yml"]


@pytest.mark.prometheus
def test_promtool_check_rules_passes() -> None:
    """`promtool check rules` accepts every rule file."""
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, _output(result)
    assert _output(result).count("SUCCESS") == len(RULE_FILES)


@pytest.mark.prometheus
def test_promtool_check_config_accepts_the_scrape_config() -> None:
    """`promtool check config` accepts the example Prometheus configuration and finds both rule files."""
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, _output(result)
    assert f"{len(RULE_FILES)} rule files found" in _output(result)


@pytest.mark.prometheus
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules_passes(test_file: Path) -> None:
    """`promtool test rules` passes for each rule test file."""
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, _output(result)


@pytest.mark.prometheus
def test_promtool_test_rules_fails_when_a_rule_names_a_wrong_metric(tmp_path: Path) -> None:
    """The rule tests have teeth: renaming a metric in a rule makes them fail."""
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp_path / "rules")
    shutil.copytree(PROMETHEUS_DIR / "tests", tmp_path / "tests")
    rules = tmp_path / "rules" / "commerce-exporter.rules.yml"
    text = rules.read_text()
    assert "commerce_exporter_database_up == 0" in text
    rules.write_text(text.replace("commerce_exporter_database_up == 0", "commerce_exporter_db_up == 0"))
    result = promtool("test", "rules", str(tmp_path / "tests" / "commerce-exporter.test.yml"))
    assert result.returncode != 0
    assert "CommerceExporterDatabaseDown" in _output(result)


def _alert_cases() -> dict[str, tuple[int, int]]:
    """(firing cases, silent cases) per alert name, over every rule test file."""
    cases: dict[str, list[int]] = {}
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                counts = cases.setdefault(case["alertname"], [0, 0])
                counts[0 if case.get("exp_alerts") else 1] += 1
    return {name: (fire, silent) for name, (fire, silent) in cases.items()}


@pytest.mark.parametrize("alert", [a["alert"] for a in ALERTS])
def test_every_alert_is_tested_firing_and_not_firing(alert: str) -> None:
    """Each alert has at least one rule test where it fires and one where it stays silent."""
    firing, silent = _alert_cases().get(alert, (0, 0))
    assert firing >= 1, f"{alert}: no test where it fires"
    assert silent >= 1, f"{alert}: no test where it stays silent"


def test_rule_tests_name_only_existing_alerts() -> None:
    """No rule test refers to an alert the rule files do not define (a typo would test nothing)."""
    assert set(_alert_cases()) <= {a["alert"] for a in ALERTS}


def test_alert_names_are_unique() -> None:
    """No two rules share an alert name."""
    names = [a["alert"] for a in ALERTS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_alert_has_severity_summary_templated_description(alert: dict[str, Any]) -> None:
    """Each alert carries a known severity, a summary, and a description templated with its labels or value."""
    assert alert["labels"]["severity"] in SEVERITIES
    annotations = alert["annotations"]
    assert annotations["summary"].strip()
    assert re.search(r"\{\{\s*\$(labels|value)", annotations["description"])


def _anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the markdown headings."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_alert_runbook_url_points_at_its_section(alert: dict[str, Any]) -> None:
    """Each alert's runbook_url is docs/alerts.md#<its name>, and that section exists."""
    url = alert["annotations"]["runbook_url"]
    assert url == f"docs/alerts.md#{alert['alert'].lower()}"
    assert url.split("#", 1)[1] in _anchors(RUNBOOK.read_text())


def test_job_matchers_match_the_scrape_config() -> None:
    """Every `job="…"` an alert selects is a job of the example scrape config."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    used = {job for alert in ALERTS for job in re.findall(r'job="([^"]+)"', alert["expr"])}
    assert used and used <= jobs
