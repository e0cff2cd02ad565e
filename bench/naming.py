"""`python -m bench.naming`: one collection in the reference naming against the store naming, same run, same data.

Builds the data set twice (once per naming) on each backend, then alternates full collections
of all providers between the two databases so both see the same machine load, and prints the
median time per provider and in total. Both exporters see the same "now" (a stopped wall clock),
so the business exposition of the two must be the same bytes; the benchmark stops if it is not.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from statistics import median

from bench.collection import exporter_runtime, warm_up
from bench.datasets import SIZES, database
from exporter.app import Runtime
from exporter.exposition import Format
from exporter.schema import Naming

NAMINGS: tuple[Naming, ...] = ("reference", "store")
CACHE = Path(__file__).resolve().parent / "results" / "cache"


class StoppedWallClock:
    """Wall time stopped at one instant (both namings compute the same window), real monotonic time."""

    def __init__(self) -> None:
        self.instant = time.time()

    def wall(self) -> float:
        return self.instant

    def monotonic(self) -> float:
        return time.monotonic()


def _say(message: str) -> None:
    print(f"[bench.naming {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _business(runtime: Runtime) -> bytes:
    """The business and info families of the last runs, as a scrape serves them (text format)."""
    return b"".join(runtime.runner.store.view(Format.TEXT).plain)


def one_collection(runtime: Runtime) -> dict[str, float]:
    """Seconds per provider of one run of every provider."""
    times = {}
    for provider in runtime.providers:
        started = time.perf_counter()
        result = runtime.runner.run(provider)
        times[provider.name] = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"provider {provider.name} failed: {result.error}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naming", description=__doc__)
    parser.add_argument("--size", default="L", choices=sorted(SIZES), help="data set (default L)")
    parser.add_argument("--backends", default="postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--repeat", type=int, default=5, help="collections per naming (alternating; default 5)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where SQLite data sets are kept")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with ExitStack() as stack:
            clock = StoppedWallClock()
            runtimes: dict[str, Runtime] = {}
            for naming in NAMINGS:
                _say(f"{backend}: {size.describe()} in the {naming} naming")
                url = stack.enter_context(database(backend, size, args.cache, naming))
                runtimes[naming] = stack.enter_context(exporter_runtime(url, {"naming": naming}, clock))
                warm_up(runtimes[naming])
            same = _business(runtimes["reference"]) == _business(runtimes["store"])
            if not same:
                raise SystemExit("the two namings exposed different business samples")
            runs: dict[str, list[dict[str, float]]] = {naming: [] for naming in NAMINGS}
            for i in range(args.repeat):
                for naming in NAMINGS if i % 2 == 0 else reversed(NAMINGS):
                    runs[naming].append(one_collection(runtimes[naming]))
            providers = list(runs["reference"][0])
            print(f"\n{backend}, {size.describe()}: median of {args.repeat} collections, seconds")
            print(f"{'provider':<12} {'reference':>10} {'store':>10} {'store/ref':>10}")
            for name in [*providers, "total"]:
                medians = {
                    naming: median(sum(r.values()) if name == "total" else r[name] for r in runs[naming])
                    for naming in NAMINGS
                }
                ratio = medians["store"] / medians["reference"] if medians["reference"] else float("nan")
                print(f"{name:<12} {medians['reference']:>10.3f} {medians['store']:>10.3f} {ratio:>10.2f}")
            print("business samples of the two namings: identical bytes" if same else "DIFFERENT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
