"""Provider Python alone: the built-in providers' `values()` over one run's rows, `MetricValue` built three ways.

`python -m bench.values [--size L] [--backend sqlite] [--repeat 5]` fetches every built-in
provider's rows once (one run's statements), then replays `values()` for every vendor and
platform of that run with no SQL: with `metric()` as shipped (a per-key template made by
keyword), with every field passed by keyword, and with the fields passed positionally (fast,
but a swap of two `str | None` fields would pass the type checker). The three alternate within
each repeat (each one first in turn), so machine load affects them alike; medians are printed.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

from bench.collection import exporter_runtime, warm_up
from bench.datasets import SIZES, database
from exporter.contracts import MetricScalar, MetricsContext, MetricValue, Scope
from providers._base import GroupedProvider, GroupRows

RESULTS = Path(__file__).resolve().parent / "results"

Call = tuple[Scope, GroupRows, MetricsContext]
"""The arguments of one `values()` call."""

Metric = Callable[..., MetricValue]


def keyword(
    self: GroupedProvider, key: str, value: MetricScalar, context: MetricsContext, *, unit: str | None = None
) -> MetricValue:
    """Every field by keyword, per value."""
    spec = self.CATALOG[key]
    return MetricValue(
        key=key,
        value=value,
        label=spec.label,
        category=self.category,
        icon=spec.icon,
        description=spec.description,
        unit=unit or spec.unit,
        period=context.period if spec.windowed else None,
    )


def positional(
    self: GroupedProvider, key: str, value: MetricScalar, context: MetricsContext, *, unit: str | None = None
) -> MetricValue:
    """Every field by position, per value (the order written by hand)."""
    spec = self.CATALOG[key]
    return MetricValue(
        key,
        value,
        spec.label,
        self.category,
        spec.icon,
        spec.description,
        unit or spec.unit,
        None,
        None,
        context.period if spec.windowed else None,
    )


VARIANTS: dict[str, Metric | None] = {"template (shipped)": None, "keyword": keyword, "positional": positional}
"""None: the provider's own `metric`."""


def record_calls(provider: GroupedProvider, run: Callable[[], object]) -> list[Call]:
    """The `values()` calls one run makes (rows included), recorded while the run computes."""
    calls: list[Call] = []
    own = provider.values

    def recording(scope: Scope, rows: GroupRows, context: MetricsContext) -> Any:
        calls.append((scope, rows, context))
        return own(scope, rows, context)

    provider.values = recording  # type: ignore[method-assign]  # an instance attribute, for this run only
    try:
        run()
    finally:
        del provider.values
    return calls


def replay(provider: GroupedProvider, calls: list[Call], metric: Metric | None) -> tuple[float, int]:
    """(seconds, values built) for `values()` over `calls`, with `metric` in place of the provider's own."""
    if metric is not None:
        provider.metric = metric.__get__(provider)  # type: ignore[method-assign]
    try:
        values = provider.values
        gc.collect()
        gc.disable()  # as during a run (exporter.runs): no cycle collection among the values being built
        started = time.perf_counter()
        built = sum(len(values(scope, rows, context)) for scope, rows, context in calls)
        return time.perf_counter() - started, built
    finally:
        gc.enable()
        if metric is not None:
            del provider.metric


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.values", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="L", choices=sorted(SIZES))
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=RESULTS / "cache")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    print(f"{size.name} on {args.backend}: {size.describe()}", file=sys.stderr, flush=True)
    with database(args.backend, size, args.cache) as url, exporter_runtime(url) as runtime:
        warm_up(runtime)
        recorded = []
        for loaded in runtime.providers:
            impl = loaded.provider.impl
            if not isinstance(impl, GroupedProvider):
                continue
            with runtime.database.session() as db:

                def run(loaded: Any = loaded, db: Any = db) -> object:
                    return runtime.runner.compute(loaded, db)

                recorded.append((loaded.name, impl, record_calls(impl, run)))
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        built: dict[str, int] = {}
        order = list(VARIANTS.items())
        for repeat in range(args.repeat):
            for name, metric in order[repeat % len(order) :] + order[: repeat % len(order)]:  # each one first in turn
                total = 0.0
                for _provider, impl, calls in recorded:
                    seconds, count = replay(impl, calls, metric)
                    total += seconds
                    built[name] = built.get(name, 0) + count
                times[name].append(total)
    shipped = median(times["template (shipped)"])
    values = built["template (shipped)"] // args.repeat
    print(f"values() of {len(recorded)} providers, {values:,} values per run, median of {args.repeat}:")
    for name, runs in times.items():
        seconds = median(runs)
        print(
            f"  {name:<20} {seconds:8.3f} s  {seconds / values * 1e9:6.0f} ns/value  "
            f"{(seconds - shipped) * 1000:+8.1f} ms vs. shipped"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
