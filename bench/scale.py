"""`python -m bench --scale`: the cost curve from 100 to 100,000 vendors, and XL split into shards.

One point per (data set, backend): collection time against the direct-SQL floor (same statements,
raw driver), where the rest goes (directory, provider values with their SQL, rendering), the series
and bytes exported, `/metrics` plain and gzip latency and the exporter's peak RSS (a `serve`
subprocess). At XL the same figures for each of `--shards` shards, and their sums against the
unsharded run. Prints a table and writes JSON; `python -m bench.plot` draws the picture from it.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from statistics import median
from typing import Any

from bench.collection import exporter_runtime, measure_collection, warm_up
from bench.datasets import SIZES, Size, database, xl_database
from bench.scrape import measure_scrapes

RUNS = (("S", "postgresql"), ("M", "postgresql"), ("L", "postgresql"), ("M", "mariadb"), ("L", "mariadb"))
"""The curve's points before XL (XL is PostgreSQL only)."""


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure_point(
    url: str, size: Size, backend: str, args: argparse.Namespace, say: Callable[[str], None], shard: str = "0/1"
) -> dict[str, Any]:
    """One data set, backend and shard: collection vs. floor, phases, series, scrapes, memory."""
    load_before = _load()
    with exporter_runtime(url, shard=shard) as runtime:
        say(f"{size.name} {backend} shard {shard}: warm-up run of every provider")
        warm_up(runtime)
        say(f"{size.name} {backend} shard {shard}: collection vs. direct SQL, {args.repeat} repeat(s)")
        figures = measure_collection(runtime, args.repeat)
    gc.collect()
    repeats = len(figures[0].runs)
    totals = [sum(p.runs[i] for p in figures) for i in range(repeats)]
    floors = [sum(p.floor[i] for p in figures) for i in range(repeats)]
    point: dict[str, Any] = {
        "size": size.name,
        "backend": backend,
        "shard": shard,
        "data": {"platforms": size.platforms, "vendors": size.vendors, "orders": size.orders},
        "collect_s": median(totals),
        "sql_floor_s": median(floors),
        "directory_s": sum(median(p.directory) for p in figures),
        "values_s": sum(median(p.values) for p in figures),
        "render_s": sum(median(p.render) for p in figures),
        "statements": sum(p.statements for p in figures),
        "provider_series": sum(p.series for p in figures),
        "providers": {
            p.name: {"collect_s": p.collect, "sql_floor_s": p.sql, "series": p.series, "render_s": median(p.render)}
            for p in figures
        },
        "scrape": None,
    }
    point["ratio"] = point["collect_s"] / point["sql_floor_s"] if point["sql_floor_s"] else None
    if not args.no_scrape:
        requests = args.xl_requests if size.name == "XL" else args.requests
        say(f"{size.name} {backend} shard {shard}: serve subprocess, {args.clients} clients × {requests} requests")
        scrape = measure_scrapes(
            url,
            args.output.parent / "work",
            clients=args.clients,
            requests=requests,
            ready_timeout=args.ready_timeout,
            shard=shard,
        )
        point["scrape"] = {
            "series": scrape.series,
            "exported_series": scrape.exported_series,
            "plain_p50_ms": scrape.plain.p50,
            "plain_p99_ms": scrape.plain.p99,
            "plain_bytes": scrape.plain.body_bytes,
            "gzip_p50_ms": scrape.gzip.p50,
            "gzip_p99_ms": scrape.gzip.p99,
            "gzip_bytes": scrape.gzip.body_bytes,
            "requests": scrape.plain.requests,
            "peak_rss_bytes": scrape.peak_rss_bytes,
            "rss_bytes": scrape.rss_bytes,
            "ready_s": scrape.ready_seconds,
        }
    point["load_average"] = {"before": load_before, "after": _load()}
    return point


def _source(size: Size, backend: str, args: argparse.Namespace, say: Callable[[str], None]) -> Any:
    if size.name == "XL":
        return nullcontext(xl_database(size, say))
    context: AbstractContextManager[str] = database(backend, size, args.cache)
    return context


def run_scale(
    args: argparse.Namespace, report: dict[str, Any], say: Callable[[str], None], save: Callable[[], None]
) -> None:
    """Every point of the curve, then XL unsharded and per shard; `save` after each point."""
    wanted = [part.strip() for part in (args.scale_runs or "").split(",") if part.strip()]
    runs = [*RUNS, ("XL", "postgresql")]
    if wanted:
        runs = [run for run in runs if f"{run[0]}:{run[1]}" in wanted]
    report["points"] = []
    report["shards"] = []
    for size_name, backend in runs:
        size = SIZES[size_name]
        say(f"{size_name} on {backend}: preparing data ({size.describe()})")
        started = time.perf_counter()
        with _source(size, backend, args, say) as url:
            report.setdefault("data_seconds", {})[f"{size_name}:{backend}"] = time.perf_counter() - started
            report["points"].append(measure_point(url, size, backend, args, say))
            save()
            print(table(report), flush=True)
            if size_name == "XL" and args.shards > 1:
                for index in range(args.shards):
                    shard = f"{index}/{args.shards}"
                    report["shards"].append(measure_point(url, size, backend, args, say, shard=shard))
                    save()
                print(table(report), flush=True)


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value / 2**20:.1f}"


def _row(point: dict[str, Any]) -> str:
    scrape = point.get("scrape") or {}
    series = scrape.get("exported_series", point["provider_series"])
    ratio = point.get("ratio")
    return (
        f"{point['size']:<3} {point['backend']:<10} {point['shard']:>5} {point['data']['vendors']:>8,}"
        f" {point['collect_s']:>8.2f} {point['sql_floor_s']:>8.2f} {'—' if ratio is None else f'{ratio:.2f}×':>6}"
        f" {point['directory_s']:>6.2f} {point['values_s']:>7.2f} {point['render_s']:>7.2f} {series:>10,}"
        f" {_mib(scrape.get('plain_bytes')):>6} {_mib(scrape.get('gzip_bytes')):>5}"
        f" {scrape.get('gzip_p50_ms', float('nan')):>7.1f} {scrape.get('gzip_p99_ms', float('nan')):>7.1f}"
        f" {scrape.get('plain_p50_ms', float('nan')):>8.1f} {scrape.get('plain_p99_ms', float('nan')):>8.1f}"
        f" {_mib(scrape.get('peak_rss_bytes')):>6}"
        f"  {'/'.join(f'{x:.1f}' for x in point['load_average']['before'])}"
    )


def table(report: dict[str, Any]) -> str:
    """The `--scale` table: one row per point, then the shards and their sums against the unsharded XL."""
    header = (
        f"{'set':<3} {'backend':<10} {'shard':>5} {'vendors':>8} {'collect':>8} {'floor':>8} {'ratio':>6}"
        f" {'dir':>6} {'values':>7} {'render':>7} {'series':>10} {'MiB':>6} {'gzMiB':>5}"
        f" {'gz p50':>7} {'gz p99':>7} {'txt p50':>8} {'txt p99':>8} {'RSS':>6}  load before"
    )
    lines = [
        "seconds for collect/floor/dir/values/render (medians; values include their SQL), ms for scrapes, "
        "MiB for bodies and peak RSS",
        header,
    ]
    lines += [_row(point) for point in report.get("points", [])]
    shards = report.get("shards", [])
    if shards:
        lines += [_row(point) for point in shards]
        whole = next((p for p in report["points"] if p["size"] == "XL" and p["shard"] == "0/1"), None)
        floors = sum(p["sql_floor_s"] for p in shards)
        collects = sum(p["collect_s"] for p in shards)
        if whole is not None:
            lines.append(
                f"{len(shards)} shards together: database (floor) {floors:.2f} s = "
                f"{floors / whole['sql_floor_s']:.2f}× the unsharded floor; collection {collects:.2f} s = "
                f"{collects / whole['collect_s']:.2f}× the unsharded collection"
            )
            for point in shards:
                lines.append(
                    f"  shard {point['shard']}: floor {point['sql_floor_s'] / whole['sql_floor_s']:.2f}× and "
                    f"collection {point['collect_s'] / whole['collect_s']:.2f}× of the unsharded run"
                )
    return "\n".join(lines)
