"""`python -m bench`: build the data sets, measure, print the table, write the JSON file."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.collection import computed_values, exporter_runtime, measure_collection, measure_per_vendor, warm_up
from bench.datasets import SIZES, database
from bench.rendering import measure_render
from bench.report import run_record, table
from bench.scale import run_scale
from bench.scrape import measure_scrapes

RESULTS = Path(__file__).resolve().parent / "results"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Collection vs. direct SQL vs. per-vendor calls, render vs. generate_latest, "
        "/metrics latency, peak memory and series count, on the M and L data sets.",
    )
    parser.add_argument("--quick", action="store_true", help="small data set Q on SQLite, one repeat (CI)")
    parser.add_argument("--sizes", help="comma-separated data sets: Q, M, L (default M,L; Q with --quick)")
    parser.add_argument("--backends", help="comma-separated: sqlite, postgresql (default both; sqlite with --quick)")
    parser.add_argument("--repeat", type=int, help="repeats of each timing; medians are reported (default 3)")
    parser.add_argument(
        "--per-vendor-sizes", default="Q,M", help="data sets on which the per-vendor protocol runs (default Q,M)"
    )
    parser.add_argument("--per-vendor-repeat", type=int, default=1, help="repeats of the per-vendor run (default 1)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent /metrics clients (default 4)")
    parser.add_argument("--requests", type=int, help="requests per client and mode (default 25; 3 with --quick)")
    parser.add_argument("--no-scrape", action="store_true", help="skip the server and latency measurements")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/bench-<time>.json)")
    parser.add_argument("--cache", type=Path, default=RESULTS / "cache", help="where SQLite data sets are kept")
    parser.add_argument("--ready-timeout", type=float, default=1800, help="seconds to wait for the server's first run")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the cost curve: S, M, L, XL on PostgreSQL and M, L on MariaDB, XL also split into --shards shards "
        "(XL is generated once into COMMERCE_BENCH_XL_DATABASE, default ce_bench_xl; minutes, not for CI)",
    )
    parser.add_argument("--scale-runs", help="with --scale: only these points, e.g. S:postgresql,XL:postgresql")
    parser.add_argument("--shards", type=int, default=4, help="with --scale: shards at XL (default 4)")
    parser.add_argument("--xl-requests", type=int, default=3, help="with --scale: requests per client and mode at XL")
    return parser


def _names(text: str, allowed: Any, what: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise SystemExit(f"--{what}: expected a comma-separated list of {', '.join(allowed)}, got {text!r}")
    return names


def bench_one(size_name: str, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement on one data set and backend, side by side."""
    size = SIZES[size_name]
    _say(f"{size_name} on {backend}: preparing data ({size.describe()})")
    with database(backend, size, args.cache) as url:
        load_before = _load()
        with exporter_runtime(url) as runtime:
            _say("warm-up run of every provider")
            warm_up(runtime)
            _say(f"collection vs. direct SQL, {args.repeat} repeat(s)")
            figures = measure_collection(runtime, args.repeat)
            if size_name in args.per_vendor_sizes:
                _say(f"per-vendor protocol, {args.per_vendor_repeat} repeat(s)")
                measure_per_vendor(runtime, figures, args.per_vendor_repeat)
            _say(f"render vs. generate_latest, {args.repeat} repeat(s)")
            computed = computed_values(runtime, runtime.providers)
            render = measure_render(runtime.runner, runtime.providers, computed, args.repeat)
            del computed
        gc.collect()
        scrape = None
        if not args.no_scrape:
            _say(f"/metrics latency: server subprocess, {args.clients} clients × {args.requests} requests")
            scrape = measure_scrapes(
                url,
                args.output.parent / "work",
                clients=args.clients,
                requests=args.requests,
                ready_timeout=args.ready_timeout,
            )
        load = {"before": load_before, "after": _load()}
    return run_record(size, backend, load, figures, render, scrape)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.sizes = _names(args.sizes or ("Q" if args.quick else "M,L"), SIZES, "sizes")
    args.backends = _names(
        args.backends or ("sqlite" if args.quick else "sqlite,postgresql"), ("sqlite", "postgresql"), "backends"
    )
    args.per_vendor_sizes = _names(args.per_vendor_sizes, SIZES, "per-vendor-sizes")
    args.repeat = args.repeat or (1 if args.quick or args.scale else 3)
    args.requests = args.requests or (3 if args.quick else 10 if args.scale else 25)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    args.output = args.output or RESULTS / f"{'scale' if args.scale else 'bench'}-{stamp}.json"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": _load(),
        },
        "settings": {
            "repeat": args.repeat,
            "per_vendor_repeat": args.per_vendor_repeat,
            "clients": args.clients,
            "requests_per_client": args.requests,
        },
        "runs": [],
    }
    if args.scale:
        report["settings"]["shards"] = args.shards
        report["settings"]["requests_per_client_xl"] = args.xl_requests

        def save() -> None:
            report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
            args.output.write_text(json.dumps(report, indent=2) + "\n")

        run_scale(args, report, _say, save)
        _say(f"results written to {args.output}")
        return 0
    for size_name in args.sizes:
        for backend in args.backends:
            record = bench_one(size_name, backend, args)
            report["runs"].append(record)
            print(table(record), end="\n\n", flush=True)
            # Written after every run, so a long benchmark that is interrupted keeps what it measured.
            report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
            args.output.write_text(json.dumps(report, indent=2) + "\n")
    _say(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
