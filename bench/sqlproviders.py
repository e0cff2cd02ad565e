"""`python -m bench.sqlproviders`: a declared SQL provider against the built-in orders provider, same table.

The declared provider is the first recipe of docs/sql-providers.md (orders and gross amount per
sales channel in the window: one grouped query over `orders`, platform values rolled up by the
exporter). Both run through the exporter's own runner on the same data set, alternately, so a
noisy machine slows both alike; the medians of whole runs (directory, query, values, rendering)
are printed with the statement count, the series count, the load average, and the time of the
same statements replayed through the raw driver (the SQL floor: the rest is the exporter's work).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from bench.capture import captured, replay
from bench.datasets import SIZES, database
from exporter.app import Exporter
from exporter.config import parse_config
from exporter.selfmetrics import SelfMetrics

RESULTS = Path(__file__).resolve().parent / "results"

RECIPES = Path(__file__).resolve().parent.parent / "examples" / "sql-providers.yml"

ORDER_CHANNELS: dict[str, Any] = yaml.safe_load(RECIPES.read_text(encoding="utf-8"))["providers"]["order_channels"][
    "sql"
]
"""The first recipe of docs/sql-providers.md."""

COMPARED = ("order_channels", "orders")


def _config(url: str) -> Any:
    providers: dict[str, Any] = {
        name: {"enabled": False} for name in ("tenancy", "customers", "cms", "catalog", "inventory", "marketplace")
    }
    providers["order_channels"] = {"sql": ORDER_CHANNELS}
    return parse_config(
        {
            "database": {"url": url, "statement_timeout": "10m"},
            "collection": {"interval": "1h"},
            "providers": providers,
        },
        env={},
    )


def measure(url: str, repeat: int) -> dict[str, dict[str, Any]]:
    """Per provider: median run seconds, statements of one run, series."""
    config = _config(url)
    exporter = Exporter(lambda: config, metrics=SelfMetrics(process=False))
    runtime = exporter.build(config)
    exporter.runtime = runtime
    figures: dict[str, dict[str, Any]] = {name: {"runs": [], "floor": []} for name in COMPARED}
    try:
        providers = {p.name: p for p in runtime.providers if p.name in COMPARED}
        for name in COMPARED:  # warm: page cache, reflection, compiled statements
            result = runtime.runner.run(providers[name])
            if not result.ok:
                raise RuntimeError(f"provider {name} failed: {result.error}")
        for _ in range(repeat):
            for name in COMPARED:
                with captured(runtime.database.engine) as statements:
                    started = time.perf_counter()
                    result = runtime.runner.run(providers[name])
                    figures[name]["runs"].append(time.perf_counter() - started)
                figures[name]["statements"] = len(statements.executed)
                figures[name]["series"] = result.series
                figures[name]["floor"].append(replay(runtime.database.engine, statements))
    finally:
        exporter.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlproviders", description=__doc__)
    parser.add_argument("--size", default="L", choices=sorted(SIZES), help="data set (default L: 10,000 vendors)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each provider; medians are printed")
    parser.add_argument("--cache", type=Path, default=RESULTS / "cache", help="where SQLite data sets are kept")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    print(f"data set {size.name}: {size.describe()}; {args.repeat} alternating runs of each provider")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"[{time.strftime('%H:%M:%S')}] {backend}: preparing the data set", file=sys.stderr, flush=True)
        with database(backend, size, args.cache) as url:
            before = os.getloadavg()
            figures = measure(url, args.repeat)
            after = os.getloadavg()
        print(f"{backend} (load average before {before[0]:.2f}, after {after[0]:.2f}):")
        for name in COMPARED:
            item = figures[name]
            runs = item["runs"]
            kind = "declared sql, first recipe" if name == "order_channels" else "built-in"
            print(
                f"  {name:<15} {kind:<27} median {median(runs) * 1000:8.1f} ms  "
                f"(min {min(runs) * 1000:8.1f}, max {max(runs) * 1000:8.1f})  "
                f"{item['statements']} statements  {item['series']:,} series; "
                f"the same statements through the raw driver: median {median(item['floor']) * 1000:8.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
