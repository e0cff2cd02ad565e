"""Collection time per provider: the exporter's run vs. the same SQL through the driver vs. per-vendor calls."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from bench.capture import captured, replay
from exporter.adapter import adapt
from exporter.app import Exporter, Runtime
from exporter.clock import Clock
from exporter.config import Config, parse_config
from exporter.contracts import MetricsContext, MetricValue
from exporter.directory import load_directory
from exporter.discovery import LoadedProvider
from exporter.runs import Computed
from exporter.selfmetrics import SelfMetrics


@dataclass
class ProviderFigures:
    """One provider's timings (seconds, one entry per repeat) and what its run produced."""

    name: str
    runs: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    statements: int = 0
    series: int = 0
    per_vendor: list[float] = field(default_factory=list)
    per_vendor_statements: int = 0
    directory: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    render: list[float] = field(default_factory=list)

    @property
    def collect(self) -> float:
        """Median run."""
        return median(self.runs)

    @property
    def sql(self) -> float:
        """Median direct-SQL floor."""
        return median(self.floor)


class PerVendorOnly:
    """Hides a provider's bulk methods, so the runner calls it once per vendor and per platform."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    @property
    def metrics_category(self) -> str:
        return str(self._provider.metrics_category)

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: MetricsContext | None = None) -> list[MetricValue]:
        return list(self._provider.get_vendor_metrics(db, vendor_id, context))

    def get_platform_metrics(
        self, db: Any, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        return list(self._provider.get_platform_metrics(db, platform_id, context))


def bench_config(url: str, schema: dict[str, Any] | None = None, shard: str = "0/1") -> Config:
    """The exporter's defaults, with statement timeouts long enough for a loaded, shared machine."""
    return parse_config(
        {
            "database": {"url": url, "statement_timeout": "10m"},
            "collection": {"interval": "1h", "shard": shard},
            "schema": schema or {},
        },
        env={},
    )


@contextmanager
def exporter_runtime(
    url: str, schema: dict[str, Any] | None = None, clock: Clock | None = None, shard: str = "0/1"
) -> Iterator[Runtime]:
    """An exporter built from `bench_config` (not scheduled): its runner, store and providers."""
    config = bench_config(url, schema, shard)
    exporter = Exporter(lambda: config, clock=clock, metrics=SelfMetrics(process=False))
    runtime = exporter.build(config)
    exporter.runtime = runtime
    try:
        yield runtime
    finally:
        exporter.stop()


def warm_up(runtime: Runtime) -> None:
    """One run of every provider, so pages are cached and compiled statements too, for both sides alike."""
    for provider in runtime.providers:
        result = runtime.runner.run(provider)
        if not result.ok:
            raise RuntimeError(f"provider {provider.name} failed: {result.error}")


def measure_collection(runtime: Runtime, repeat: int) -> list[ProviderFigures]:
    """Per provider and repeat: one exporter run (captured), then its statements replayed raw."""
    engine = runtime.database.engine
    figures = {p.name: ProviderFigures(p.name) for p in runtime.providers}
    for _ in range(repeat):
        for provider in runtime.providers:
            item = figures[provider.name]
            with captured(engine) as statements:
                started = time.perf_counter()
                result = runtime.runner.run(provider)
                item.runs.append(time.perf_counter() - started)
            if not result.ok:
                raise RuntimeError(f"provider {provider.name} failed: {result.error}")
            item.statements, item.series = len(statements.executed), result.series
            item.floor.append(replay(engine, statements))
            _breakdown(runtime, provider, item)
    return list(figures.values())


def _breakdown(runtime: Runtime, provider: LoadedProvider, item: ProviderFigures) -> None:
    """Where a run's time goes: the directory, the provider's values (SQL included), rendering."""
    runner = runtime.runner
    with runtime.database.session() as db:
        started = time.perf_counter()
        load_directory(db)
        item.directory.append(time.perf_counter() - started)
    with runtime.database.session() as db:
        started = time.perf_counter()
        computed = runner.compute(provider, db)
        item.values.append(time.perf_counter() - started)
    started = time.perf_counter()
    runner.render(provider, computed)
    item.render.append(time.perf_counter() - started)


def measure_per_vendor(runtime: Runtime, figures: list[ProviderFigures], repeat: int) -> None:
    """The per-vendor methods through the same runner: one call per vendor and per platform."""
    engine = runtime.database.engine
    by_name = {f.name: f for f in figures}
    for _ in range(repeat):
        for provider in runtime.providers:
            adapted = adapt(provider.name, PerVendorOnly(provider.provider.impl))
            per_vendor = dataclasses.replace(provider, provider=adapted)
            with captured(engine) as statements:
                started = time.perf_counter()
                result = runtime.runner.run(per_vendor)
                elapsed = time.perf_counter() - started
            if not result.ok:
                raise RuntimeError(f"provider {provider.name} (per vendor) failed: {result.error}")
            by_name[provider.name].per_vendor.append(elapsed)
            by_name[provider.name].per_vendor_statements = len(statements.executed)
    # Leave the store as the bulk path makes it.
    for provider in runtime.providers:
        runtime.runner.run(provider)


def computed_values(runtime: Runtime, providers: list[LoadedProvider]) -> dict[str, Computed]:
    """Every provider's raw values of one run (the input of the render comparison)."""
    values = {}
    for provider in providers:
        with runtime.database.session() as db:
            values[provider.name] = runtime.runner.compute(provider, db)
    return values
