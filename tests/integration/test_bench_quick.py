"""The benchmark's quick mode runs end to end and reports every figure (shape only, never timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.databases import ADMIN_URLS, unavailable

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {"tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace"}


def _reachable(backend: str) -> None:
    if backend == "sqlite":
        return
    engine = create_engine(ADMIN_URLS[backend], connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as err:  # any driver error means the server cannot be used
        unavailable(f"{backend} ({type(err).__name__})")
    finally:
        engine.dispose()


@pytest.fixture(
    scope="module",
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def quick_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """`python -m bench --quick` on one backend: its printed table and its JSON file."""
    backend = str(request.param)
    _reachable(backend)
    work = tmp_path_factory.mktemp(f"bench-{backend}")
    output = work / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--backends",
            backend,
            "--output",
            str(output),
            "--cache",
            str(work),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, json.loads(output.read_text())


def test_quick_mode_prints_the_side_by_side_table(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The table has a row per provider and a total, the render comparison, both scrape modes and the targets."""
    table, _ = quick_run
    rows = {line.split()[0] for line in table.splitlines() if line.strip()}
    assert PROVIDERS | {"total", "provider"} <= rows
    for fragment in ("SQL floor s", "per-vendor s", "generate_latest", "/metrics plain", "/metrics gzip", "peak RSS"):
        assert fragment in table
    assert table.count("target ") == 6


def test_quick_mode_json_has_every_figure(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The JSON record carries collection, floor and per-vendor times per provider, render, scrape and targets."""
    _, report = quick_run
    assert report["command"].startswith("python -m bench --quick")
    assert len(report["machine"]["load_average_at_start"]) == 3
    (run,) = report["runs"]
    assert run["size"] == "Q"
    assert {p["name"] for p in run["providers"]} == PROVIDERS
    for provider in run["providers"]:
        assert provider["collect_s"] > 0 and provider["sql_floor_s"] > 0 and provider["per_vendor_s"] > 0
        assert provider["statements"] >= 4  # the directory's three statements and at least one grouped query
        assert provider["per_vendor_statements"] > provider["statements"]
    assert run["collection"]["ratio"] > 0
    assert {"ours", "generate_latest", "client_families", "speedup"} <= set(run["render"])
    for mode in ("plain", "gzip"):
        latency = run["scrape"][mode]
        assert latency["requests"] == 4 * 3 and 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert run["scrape"]["gzip"]["body_bytes"] < run["scrape"]["plain"]["body_bytes"]
    assert run["scrape"]["peak_rss_bytes"] >= run["scrape"]["rss_bytes"] > 0
    assert [t["target"] for t in run["targets"]] == [
        "collection_vs_sql_floor",
        "render_speedup",
        "scrape_p99_gzip_ms",
        "scrape_p99_plain_ms",
        "peak_rss_mb",
        "per_vendor_speedup",
    ]


def test_quick_mode_series_counts_agree(quick_run: tuple[str, dict[str, Any]]) -> None:
    """Ours and generate_latest render the same number of series, and the server serves exactly those."""
    _, report = quick_run
    (run,) = report["runs"]
    render, scrape = run["render"], run["scrape"]
    assert render["ours_series"] == render["client_series"] == scrape["exported_series"] > 0
    assert sum(p["series"] for p in run["providers"]) < render["ours_series"]  # plus the info series
