"""`providers.<name>.sql` is checked without a database: every mistake exits 2 from check-config, its path named."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}

GOOD: dict[str, Any] = {
    "interval": "5m",
    "sql": {
        "category": "sales",
        "module": "orders",
        "query": (
            "SELECT vendor_id, channel, COUNT(*) AS n, SUM(total_amount_cents) AS cents\n"
            "FROM orders WHERE created_at BETWEEN :date_from AND :date_to GROUP BY vendor_id, channel"
        ),
        "labels": ["channel"],
        "values": [
            {"key": "sales.orders", "column": "n", "windowed": True, "platform": "sum"},
            {"key": "sales.gross", "column": "cents", "scale": "0.01", "unit": "EUR", "platform": "max"},
        ],
    },
}


def declared(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The good declaration with one change applied."""
    entry = copy.deepcopy(GOOD)
    change(entry)
    return entry


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(entry: dict[str, Any]) -> None:
        target: Any = entry
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


_DELETE = object()

CASES = [
    # (id, change, path named, words of the message)
    ("key outside its category", _set("sql.values.0.key", "orders.n"), "sql.values[0].key", 'must start with "sales."'),
    ("key outside the default category", _set("sql.category", _DELETE), "sql.values[0].key", 'start with "channels."'),
    ("value column twice", _set("sql.values.1.column", "n"), "sql.values[1].column", "already the column of values[0]"),
    ("label column is a value column", _set("sql.labels", ["cents"]), "sql.labels[0]", "also the column of values[1]"),
    ("scale not a decimal", _set("sql.values.1.scale", "cent"), "sql.values[1].scale", "decimal number"),
    ("scale written as a float", _set("sql.values.1.scale", 0.01), "sql.values[1].scale", 'quote it: "0.01"'),
    ("scale zero", _set("sql.values.1.scale", "0"), "sql.values[1].scale", "non-zero"),
    ("unit not a unit", _set("sql.values.1.unit", "euro"), "sql.values[1].unit", "currency code"),
    ("platform not an aggregate", _set("sql.values.0.platform", "avg"), "sql.values[0].platform", "'sum'"),
    ("query missing", _set("sql.query", _DELETE), "sql.query", "required value is missing"),
    ("unknown bind parameter", _set("sql.query", "SELECT vendor_id FROM t WHERE x > :since"), "sql.query", ":since"),
    ("two statements", _set("sql.query", "SELECT 1 AS vendor_id; DELETE FROM orders"), "sql.query", "one statement"),
    ("reserved label", _set("sql.labels", ["platform"]), "sql.labels[0]", "writes itself"),
    ("label not a label name", _set("sql.labels", ["sales channel"]), "sql.labels[0]", "valid label name"),
    ("label twice", _set("sql.labels", ["channel", "channel"]), "sql.labels[1]", "listed twice"),
    ("vendor_id as a value", _set("sql.values.0.column", "vendor_id"), "sql.values[0].column", "vendor column"),
    ("same key twice", _set("sql.values.1.key", "sales.orders"), "sql.values[1].key", "already the key"),
    ("no values", _set("sql.values", []), "sql.values", "at least 1"),
    ("unknown option", _set("sql.colums", ["x"]), "sql.colums", "unknown key"),
    ("category not a code", _set("sql.category", "Sales!"), "sql.category", "module code"),
    ("factory and sql", _set("factory", "pkg.mod:make"), "factory", "not both"),
    ("settings and sql", _set("settings", {"x": 1}), "settings", "takes no settings"),
]


@pytest.mark.parametrize(("change", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_config_names_the_path_of_each_mistake(
    write_config: Callable[..., Path], sqlite_url: str, change: Callable[[dict[str, Any]], None], path: str, words: str
) -> None:
    """check-config exits 2 and names `providers.channels.<path>` with what is wrong."""
    config = {"database": {"url": sqlite_url}, "providers": {"channels": declared(change)}}
    result = run_cli("check-config", "--config", str(write_config(config)), env=CLEAN_ENV)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if f"providers.channels.{path}:" in line]
    assert lines, result.stderr
    assert any(words in line for line in lines), lines


def test_the_contract_shape_passes_check_config(write_config: Callable[..., Path], sqlite_url: str) -> None:
    """The shape of the documentation passes, and check-config lists the declared provider with the built-ins."""
    config = {"database": {"url": sqlite_url}, "providers": {"order_channels": GOOD}}
    result = run_cli("check-config", "--config", str(write_config(config)), env=CLEAN_ENV)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["providers"]["order_channels"]["sql"]["values"][1]["scale"] == "0.01"
    assert "order_channels" in result.stdout.splitlines()[-2]


def test_every_mistake_of_one_file_is_reported_at_once(write_config: Callable[..., Path], sqlite_url: str) -> None:
    """Two providers with a mistake each: both paths in one report."""
    bad_key = declared(_set("sql.values.0.key", "orders.n"))
    bad_column = declared(_set("sql.values.1.column", "n"))
    config = {"database": {"url": sqlite_url}, "providers": {"one": bad_key, "two": bad_column}}
    result = run_cli("check-config", "--config", str(write_config(config)), env=CLEAN_ENV)
    assert result.returncode == 2
    assert "providers.one.sql.values[0].key" in result.stderr
    assert "providers.two.sql.values[1].column" in result.stderr
