"""`python -m bench.plot RESULT.json OUT.png`: the `--scale` curve as a picture (matplotlib, the `docs` extra)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _points(report: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    found = [p for p in report["points"] if p["backend"] == backend and p["shard"] == "0/1"]
    return sorted(found, key=lambda p: p["data"]["vendors"])


def draw(report: dict[str, Any], out: Path) -> None:
    """Three panels: time against the SQL floor, series and memory, and XL per shard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (times, memory, shards) = plt.subplots(1, 3, figsize=(16, 5.2))
    styles = {"postgresql": ("PostgreSQL", "tab:blue"), "mariadb": ("MariaDB", "tab:orange")}
    for backend, (name, colour) in styles.items():
        points = _points(report, backend)
        if not points:
            continue
        vendors = [p["data"]["vendors"] for p in points]
        times.plot(vendors, [p["collect_s"] for p in points], "o-", color=colour, label=f"{name}: collection")
        times.plot(vendors, [p["sql_floor_s"] for p in points], "s--", color=colour, label=f"{name}: SQL floor")
        for p in points:
            times.annotate(
                f"{p['ratio']:.2f}×",
                (p["data"]["vendors"], p["collect_s"]),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
        served = [p for p in points if p.get("scrape")]
        if served:
            memory.plot(
                [p["data"]["vendors"] for p in served],
                [p["scrape"]["peak_rss_bytes"] / 2**20 for p in served],
                "o-",
                color=colour,
                label=f"{name}: peak RSS (MiB)",
            )
    pg = [p for p in _points(report, "postgresql") if p.get("scrape")]
    if pg:
        memory.plot(
            [p["data"]["vendors"] for p in pg],
            [p["scrape"]["exported_series"] / 1000 for p in pg],
            "^:",
            color="tab:green",
            label="series exported (thousands)",
        )
    for axis, title, unit in (
        (times, "Collection vs. direct-SQL floor (all 7 providers)", "seconds"),
        (memory, "Exporter memory and series", "MiB / thousands"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("vendors")
        axis.set_ylabel(unit)
        axis.set_title(title, fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    whole = next((p for p in report["points"] if p["size"] == "XL" and p["shard"] == "0/1"), None)
    parts = report.get("shards", [])
    if whole is not None and parts:
        labels = [p["shard"] for p in parts] + ["sum"]
        floor = [p["sql_floor_s"] / whole["sql_floor_s"] for p in parts]
        collect = [p["collect_s"] / whole["collect_s"] for p in parts]
        floor.append(sum(floor))
        collect.append(sum(collect))
        xs = range(len(labels))
        shards.bar([x - 0.2 for x in xs], floor, width=0.4, label="database (SQL floor)", color="tab:blue")
        shards.bar([x + 0.2 for x in xs], collect, width=0.4, label="collection", color="tab:gray")
        shards.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
        shards.set_xticks(list(xs), labels)
        shards.set_ylabel("× the unsharded XL run")
        shards.set_title(f"XL in {len(parts)} shards: share of the unsharded work", fontsize=10)
        shards.legend(fontsize=8)
        for x, value in zip(xs, floor, strict=True):
            shards.annotate(
                f"{value:.2f}", (x - 0.2, value), fontsize=8, ha="center", xytext=(0, 2), textcoords="offset points"
            )
    else:
        shards.set_axis_off()
    figure.suptitle(f"python -m bench --scale ({report.get('started', '')}, {report['machine']['cpus']} CPUs)")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__)
    parser.add_argument("result", type=Path, help="JSON written by python -m bench --scale")
    parser.add_argument("out", type=Path, help="PNG to write")
    args = parser.parse_args(argv)
    draw(json.loads(args.result.read_text()), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
