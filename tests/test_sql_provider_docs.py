"""docs/sql-providers.md keeps working: its YAML validates, its recipes are the example file and run on the demo.

The recipes' outputs in the page are excerpts of a real collection; here every family they show is
checked to be what the example file exports on a demo database, and every sample line of the page
to be well-formed exposition, every panel query valid PromQL.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from exporter.config import parse_config
from exporter.demo import DemoSize, create_demo_database
from tests.exporting import collect

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "sql-providers.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "sql-providers.yml"


def _fenced() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of the page, in order."""
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in PAGE.splitlines():
        if language is None and line.startswith("```"):
            language, lines = line[3:].strip(), []
        elif language is not None and line == "```":
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def _blocks(language: str) -> list[str]:
    return [text for kind, text in _fenced() if kind == language]


def test_every_yaml_block_of_the_page_validates() -> None:
    """The contract shape and the three recipes pass the same validation as check-config."""
    blocks = [yaml.safe_load(block) for block in _blocks("yaml")]
    assert len(blocks) == 4
    for block in blocks:
        parse_config({"database": {"url": "sqlite://"}, **block}, env={})


def test_the_recipes_of_the_page_are_the_example_file() -> None:
    """Recipes 1–3 of the page, merged, equal `examples/sql-providers.yml`."""
    recipes: dict[str, Any] = {}
    for block in _blocks("yaml")[1:]:
        recipes |= yaml.safe_load(block)["providers"]
    assert recipes == yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["providers"]


def test_the_shown_outputs_are_exposition_and_the_panels_promql() -> None:
    """Every sample block parses as exposition text; every panel query as PromQL."""
    outputs = [block for block in _blocks("") if block.startswith("# HELP")]
    assert len(outputs) == 3
    for block in outputs:
        assert list(text_string_to_metric_families(block))
    panels = _blocks("promql")
    assert len(panels) == 3
    for query in panels:
        promql_parser.parse(query.replace("$job", "x").replace("$platform", "main"))


def test_the_recipes_run_on_a_demo_database(database_url: str) -> None:
    """Every recipe succeeds on demo data (every backend) and exports the families the page shows, with its labels."""
    engine = create_engine(database_url)
    try:
        create_demo_database(engine, DemoSize(), anchor=datetime(2026, 6, 15), replace=True)
    finally:
        engine.dispose()
    providers = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["providers"]
    exposition = collect(database_url, providers=providers)
    results = {r.provider: r for r in exposition.results}
    assert all(results[name].ok for name in providers), results
    shown: dict[str, set[str]] = {}
    for block in (block for block in _blocks("") if block.startswith("# HELP")):
        for family in text_string_to_metric_families(block):
            for sample in family.samples:
                shown.setdefault(sample.name, set()).update(sample.labels)
    assert len(shown) == 12
    for name, labels in shown.items():
        series = exposition.series(name)
        assert series, name
        assert {label for key in series for label, _ in key} == labels, name
