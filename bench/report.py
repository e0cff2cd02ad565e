"""The benchmark's results: one record per data set and backend, targets, the printed table."""

from __future__ import annotations

from dataclasses import asdict
from statistics import median
from typing import Any

from bench.collection import ProviderFigures
from bench.datasets import Size
from bench.rendering import RenderFigures
from bench.scrape import ScrapeFigures

TARGETS = (
    ("collection_vs_sql_floor", "collection ≤ 1.5× the direct-SQL floor", "L", 1.5, "max"),
    ("render_speedup", "render ≥ 5× faster than generate_latest", "L", 5.0, "min"),
    ("scrape_p99_gzip_ms", "/metrics p99 ≤ 50 ms (gzip, as Prometheus scrapes)", "L", 50.0, "max"),
    ("scrape_p99_plain_ms", "/metrics p99 ≤ 50 ms (plain)", "L", 50.0, "max"),
    ("peak_rss_mb", "peak RSS ≤ 300 MB", "L", 300.0, "max"),
    ("per_vendor_speedup", "≥ 20× faster than the per-vendor protocol", "M", 20.0, "min"),
)
"""(field, the target in words, data set it is set for, limit, whether the limit is a max or a min)."""


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def run_record(
    size: Size,
    backend: str,
    load: dict[str, list[float]],
    providers: list[ProviderFigures],
    render: RenderFigures,
    scrape: ScrapeFigures | None,
) -> dict[str, Any]:
    """Everything measured on one data set and backend, as plain JSON data."""
    repeats = len(providers[0].runs) if providers else 0
    totals = [sum(p.runs[i] for p in providers) for i in range(repeats)]
    floors = [sum(p.floor[i] for p in providers) for i in range(repeats)]
    per_vendor_rounds = min((len(p.per_vendor) for p in providers), default=0)
    per_vendor = [sum(p.per_vendor[i] for p in providers) for i in range(per_vendor_rounds)]
    collect, floor = median(totals), median(floors)
    record: dict[str, Any] = {
        "size": size.name,
        "backend": backend,
        "data": {"platforms": size.platforms, "vendors": size.vendors, "orders": size.orders},
        "load_average": load,
        "providers": [
            {
                "name": p.name,
                "collect_s": p.collect,
                "sql_floor_s": p.sql,
                "ratio": _ratio(p.collect, p.sql),
                "statements": p.statements,
                "series": p.series,
                "runs_s": p.runs,
                "floor_s": p.floor,
                "directory_s": median(p.directory),
                "values_s": median(p.values),
                "render_s": median(p.render),
                "per_vendor_s": median(p.per_vendor) if p.per_vendor else None,
                "per_vendor_runs_s": p.per_vendor,
                "per_vendor_statements": p.per_vendor_statements if p.per_vendor else None,
                "per_vendor_speedup": _ratio(median(p.per_vendor), p.collect) if p.per_vendor else None,
            }
            for p in providers
        ],
        "collection": {
            "collect_s": collect,
            "sql_floor_s": floor,
            "directory_s": sum(median(p.directory) for p in providers),
            "values_s": sum(median(p.values) for p in providers),
            "render_s": sum(median(p.render) for p in providers),
            "ratio": _ratio(collect, floor),
            "statements": sum(p.statements for p in providers),
            "per_vendor_s": median(per_vendor) if per_vendor else None,
            "per_vendor_statements": sum(p.per_vendor_statements for p in providers) if per_vendor else None,
            "per_vendor_speedup": _ratio(median(per_vendor), collect) if per_vendor else None,
        },
        "render": {**asdict(render), "speedup": render.speedup},
        "scrape": asdict(scrape) if scrape is not None else None,
    }
    record["targets"] = targets(record)
    return record


def targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured in this run)."""
    scrape = record["scrape"]
    values = {
        "collection_vs_sql_floor": record["collection"]["ratio"],
        "render_speedup": record["render"]["speedup"],
        "scrape_p99_gzip_ms": scrape["gzip"]["p99"] if scrape else None,
        "scrape_p99_plain_ms": scrape["plain"]["p99"] if scrape else None,
        "peak_rss_mb": scrape["peak_rss_bytes"] / 2**20 if scrape else None,
        "per_vendor_speedup": record["collection"]["per_vendor_speedup"],
    }
    result = []
    for field, text, size, limit, kind in TARGETS:
        value = values[field]
        met = None if value is None else (value <= limit if kind == "max" else value >= limit)
        result.append({"target": field, "text": text, "set_for": size, "limit": limit, "value": value, "met": met})
    return result


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def table(record: dict[str, Any]) -> str:
    """The human-readable table of one run record."""
    data = record["data"]
    lines = [
        f"== {record['size']} on {record['backend']}: {data['platforms']} platforms, {data['vendors']:,} vendors, "
        f"{data['orders']:,} orders ==",
        "load average (1/5/15 min) before {} · after {}".format(
            "/".join(f"{x:.2f}" for x in record["load_average"]["before"]),
            "/".join(f"{x:.2f}" for x in record["load_average"]["after"]),
        ),
        "",
        f"{'provider':<12} {'collect s':>10} {'SQL floor s':>12} {'ratio':>7} {'stmts':>6} {'series':>9}"
        f" {'directory s':>12} {'values s':>9} {'render s':>9} {'per-vendor s':>13} {'stmts':>7} {'speed-up':>9}",
    ]
    rows = [*record["providers"], {"name": "total", **record["collection"], "series": None}]
    for row in rows:
        per_vendor = row.get("per_vendor_s")
        lines.append(
            f"{row['name']:<12} {_seconds(row['collect_s']):>10} {_seconds(row['sql_floor_s']):>12}"
            f" {_times(row['ratio']):>7} {row['statements']:>6}"
            f" {'' if row['series'] is None else format(row['series'], ','):>9}"
            f" {_seconds(row['directory_s']):>12} {_seconds(row['values_s']):>9} {_seconds(row['render_s']):>9}"
            f" {_seconds(per_vendor):>13}"
            f" {'' if row.get('per_vendor_statements') is None else format(row['per_vendor_statements'], ','):>7}"
            f" {_times(row.get('per_vendor_speedup')):>9}"
        )
    render = record["render"]
    lines += [
        "",
        f"render, whole exposition: ours {render['ours']:.3f} s (values → both formats, plain and deflated, "
        f"{render['ours_series']:,} series, {render['ours_bytes'] / 2**20:.1f} MiB text)",
        f"  generate_latest {render['generate_latest']:.3f} s on prebuilt GaugeMetricFamily objects "
        f"(+ {render['client_families']:.3f} s to build them; {render['client_series']:,} series) "
        f"→ ours is {render['speedup']:.1f}× faster (CPU time: {render['ours_cpu']:.3f} s vs "
        f"{render['generate_latest_cpu']:.3f} s, {render['generate_latest_cpu'] / render['ours_cpu']:.1f}×)",
        f"publish: one provider {render['publish'] * 1000:.2f} ms (combined view rebuilt) · "
        f"then the unchanged info metrics {render['publish_info'] * 1000:.2f} ms",
    ]
    scrape = record["scrape"]
    if scrape:
        for mode in ("plain", "gzip"):
            item = scrape[mode]
            lines.append(
                f"/metrics {mode:<5} 4 clients × {item['requests'] // 4}: p50 {item['p50']:.1f} ms · "
                f"p99 {item['p99']:.1f} ms · max {item['max']:.1f} ms · body {item['body_bytes'] / 2**20:.2f} MiB · "
                f"headers p50 {item['first_byte_p50']:.1f} / p99 {item['first_byte_p99']:.1f} ms"
            )
        lines.append(
            f"exporter process: peak RSS {scrape['peak_rss_bytes'] / 2**20:.0f} MiB (now "
            f"{scrape['rss_bytes'] / 2**20:.0f} MiB) · {scrape['series']:,} series served "
            f"({scrape['exported_series']:,} platform/vendor) · ready after {scrape['ready_seconds']:.1f} s"
        )
    lines.append("")
    for target in record["targets"]:
        if target["value"] is None:
            verdict = "not measured"
        else:
            verdict = ("met" if target["met"] else "MISSED") + f" ({target['value']:.2f})"
        scope = "" if target["set_for"] == record["size"] else f" [set for {target['set_for']}]"
        lines.append(f"target {target['text']}{scope}: {verdict}")
    return "\n".join(lines)
