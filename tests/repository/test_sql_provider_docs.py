"""docs/sql-providers.md keeps working: its YAML validates, its recipes are the example file, its outputs parse.

That the recipes run and export what the page shows, on every backend: tests/integration/test_sql_providers.py.
"""

from __future__ import annotations

from typing import Any

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import parse_config
from tests.support.docs_page import ROOT, blocks

EXAMPLE = ROOT / "examples" / "sql-providers.yml"


def _blocks(language: str) -> list[str]:
    return blocks("docs/sql-providers.md", language)


def test_every_yaml_block_of_the_page_validates() -> None:
    """The contract shape and the three recipes pass the same validation as check-config."""
    found = [yaml.safe_load(block) for block in _blocks("yaml")]
    assert len(found) == 4
    for block in found:
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
