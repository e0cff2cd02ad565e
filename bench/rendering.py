"""Render time of the whole exposition: ours vs. prometheus_client's generate_latest on the same samples."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector as ClientCollector

from exporter.contracts import MetricValue, Scope
from exporter.discovery import LoadedProvider
from exporter.durations import format_duration
from exporter.exposition import Format, Prepared
from exporter.naming import family_name
from exporter.runs import Computed, ProviderRunner
from exporter.store import INFO, SnapshotStore


@dataclass(frozen=True)
class RenderFigures:
    """Medians over the repeats, in seconds, and the sample counts both sides produced."""

    ours: float
    generate_latest: float
    client_families: float
    ours_series: int
    client_series: int
    ours_bytes: int
    client_bytes: int
    ours_cpu: float
    generate_latest_cpu: float
    """Thread CPU seconds of the same medians: less sensitive to other processes on a shared machine."""
    publish: float
    """Median seconds to publish one provider's exposition (the combined view rebuilt)."""
    publish_info: float
    """Median seconds to publish the unchanged info metrics after it, as every run does."""

    @property
    def speedup(self) -> float:
        """generate_latest (families prebuilt) ÷ ours (values → both formats, plain and deflated)."""
        return self.generate_latest / self.ours if self.ours else float("inf")


def render_ours(
    collector: ProviderRunner, providers: Iterable[LoadedProvider], computed: Mapping[str, Computed]
) -> list[tuple[str, Prepared]]:
    """The exporter's own path, as a collection runs it: values → families → prepared bytes.

    Returns (store slot, prepared exposition) of every provider, then of the info metrics.
    """
    result = []
    taken: set[str] = set()
    directory = None
    for provider in providers:
        _, prepared = collector.render(provider, computed[provider.name], taken)
        taken |= prepared.names
        result.append((provider.name, prepared))
        directory = computed[provider.name].directory
    if directory is not None:
        result.append((INFO, collector.render_info(directory)))
    return result


def measure_publish(prepared: list[tuple[str, Prepared]], repeat: int) -> tuple[float, float]:
    """Median seconds to publish one provider into a store holding every exposition, and the info metrics after it.

    A run publishes both: its own exposition (the combined view is rebuilt) and the info metrics
    (unchanged while the directory is).
    """
    store = SnapshotStore(time.monotonic)
    for slot, exposition in prepared:
        store.publish(slot, exposition, 3600)
    info = next((exposition for slot, exposition in prepared if slot == INFO), None)
    own: list[float] = []
    after: list[float] = []
    for _ in range(repeat):
        for slot, exposition in prepared:
            if slot == INFO:
                continue
            fresh = dataclasses.replace(exposition)  # every run publishes a new one, even with the same bytes
            started = time.perf_counter()
            store.publish(slot, fresh, 3600)
            own.append(time.perf_counter() - started)
            if info is not None:
                started = time.perf_counter()
                store.publish(INFO, info, 3600)
                after.append(time.perf_counter() - started)
    return median(own) if own else 0.0, median(after) if after else 0.0


def _number(value: Any, scale: int) -> float:
    return float(value) / scale if isinstance(value, (int, float, Decimal)) else float("nan")


class SameSamples(ClientCollector):
    """A prometheus_client collector that yields the exporter's samples as GaugeMetricFamily objects."""

    def __init__(
        self,
        namespace: str,
        providers: Iterable[LoadedProvider],
        computed: Mapping[str, Computed],
        prebuilt: list[Metric] | None = None,
    ) -> None:
        self.namespace = namespace
        self.providers = list(providers)
        self.computed = computed
        self.prebuilt = prebuilt

    def collect(self) -> Iterator[Metric]:
        if self.prebuilt is not None:
            yield from self.prebuilt
            return
        yield from self.build()

    def build(self) -> list[Metric]:
        """Every family, labels in the exporter's order, built the way a prometheus_client exporter would."""
        families: dict[str, GaugeMetricFamily] = {}
        ns = self.namespace

        def add(provider: LoadedProvider, scope: Scope, value: MetricValue, owner: list[str]) -> None:
            target = family_name(ns, scope, value.key, value.unit)
            labels = ["category", "key"] + (["period"] if value.period else []) + ["platform"]
            if scope is Scope.VENDOR:
                labels.append("vendor")
            name, number = target.name, value.value
            if isinstance(number, str):
                name = name if name.endswith("_info") else f"{name}_info"
                labels.append("value")
            family = families.get(name)
            if family is None:
                help_text = (
                    f"{value.description or value.label} Refreshed every "
                    f"{format_duration(provider.interval)} by the {provider.name} provider."
                )
                family = families[name] = GaugeMetricFamily(name, help_text, labels=labels)
            label_values = [value.category, value.key] + ([value.period] if value.period else []) + owner
            if isinstance(number, str):
                family.add_metric([*label_values, number], 1)
            else:
                family.add_metric(label_values, _number(number, target.scale))

        directory = None
        for provider in self.providers:
            computed = self.computed[provider.name]
            directory = computed.directory
            # Demo data has a usable code on every row; owners without one are never exported.
            for platform in computed.plan.platforms:
                for vendor_id in computed.plan.vendors_by_platform.get(platform.id, ()):
                    vendor_code = directory.vendors[vendor_id].code
                    if platform.code is None or vendor_code is None:
                        continue
                    for value in computed.vendor_values.get(vendor_id, ()):
                        add(provider, Scope.VENDOR, value, [platform.code, vendor_code])
            for platform in computed.plan.platforms:
                if platform.code is not None:
                    for value in computed.platform_values.get(platform.id, ()):
                        add(provider, Scope.PLATFORM, value, [platform.code])
        result: list[Metric] = list(families.values())
        if directory is not None:
            platform_info = GaugeMetricFamily(f"{ns}_platform_info", "Platform info.", labels=["name", "platform"])
            vendor_info = GaugeMetricFamily(f"{ns}_vendor_info", "Vendor info.", labels=["name", "platform", "vendor"])
            for platform_id, platform in sorted(directory.platforms.items(), key=lambda item: item[1].code or ""):
                if platform.code is None:
                    continue
                platform_info.add_metric([platform.name, platform.code], 1)
                for vendor_id in directory.members.get(platform_id, ()):
                    vendor = directory.vendors[vendor_id]
                    if vendor.code is not None:
                        vendor_info.add_metric([vendor.name, platform.code, vendor.code], 1)
            result += [platform_info, vendor_info]
        return sorted(result, key=lambda family: family.name)


def _sample_lines(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))


def measure_render(
    collector: ProviderRunner,
    providers: list[LoadedProvider],
    computed: Mapping[str, Computed],
    repeat: int,
) -> RenderFigures:
    """Interleaved repeats of both renderers; medians."""
    namespace = collector.settings.namespace
    ours: list[float] = []
    building: list[float] = []
    serializing: list[float] = []
    ours_cpu: list[float] = []
    serializing_cpu: list[float] = []
    series = size = client_series = client_size = 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.thread_time()
        prepared = render_ours(collector, providers, computed)
        ours.append(time.perf_counter() - started)
        ours_cpu.append(time.thread_time() - cpu)
        series = sum(exposition.series for _, exposition in prepared)
        size = sum(exposition.formats[Format.TEXT].length for _, exposition in prepared)

        started = time.perf_counter()
        families = SameSamples(namespace, providers, computed).build()
        building.append(time.perf_counter() - started)

        registry = CollectorRegistry(auto_describe=False)
        registry.register(SameSamples(namespace, providers, computed, prebuilt=families))
        started, cpu = time.perf_counter(), time.thread_time()
        body = generate_latest(registry)
        serializing.append(time.perf_counter() - started)
        serializing_cpu.append(time.thread_time() - cpu)
        client_series, client_size = _sample_lines(body), len(body)
        del families, body, registry
    publish, publish_info = measure_publish(prepared, repeat)
    del prepared
    return RenderFigures(
        ours=median(ours),
        generate_latest=median(serializing),
        client_families=median(building),
        ours_series=series,
        client_series=client_series,
        ours_bytes=size,
        client_bytes=client_size,
        ours_cpu=median(ours_cpu),
        generate_latest_cpu=median(serializing_cpu),
        publish=publish,
        publish_info=publish_info,
    )
