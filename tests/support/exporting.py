"""Run the exporter in-process on a database and read back what it exposes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from exporter.app import Exporter
from exporter.config import Config, parse_config
from exporter.discovery import Candidate
from exporter.runs import RunResult
from exporter.selfmetrics import SelfMetrics
from tests.support.builders import NOW


@dataclass
class FixedClock:
    """A clock that only moves when told to."""

    now: datetime = NOW
    mono: float = 1000.0

    def wall(self) -> float:
        return self.now.replace(tzinfo=UTC).timestamp()

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)
        self.mono += seconds


LabelSet = frozenset[tuple[str, str]]


@dataclass
class Exposition:
    """Parsed samples of one scrape: (sample name, labels) → value."""

    text: str
    samples: dict[tuple[str, LabelSet], float] = field(default_factory=dict)
    results: list[RunResult] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, results: list[RunResult] | None = None) -> Exposition:
        samples: dict[tuple[str, LabelSet], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                assert key not in samples, f"duplicate series {key}"
                samples[key] = sample.value
        return cls(text, samples, results or [])

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one series with exactly these labels, or None."""
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str) -> dict[LabelSet, float]:
        """Every series of a sample name."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}

    def names(self) -> set[str]:
        return {n for n, _ in self.samples}


def make_config(url: str, **sections: Any) -> Config:
    """A Config for `url` with the given sections merged in."""
    return parse_config({"database": {"url": url}, **sections}, env={})


def make_exporter(
    url: str,
    *,
    clock: FixedClock | None = None,
    candidates: Iterable[Candidate] | None = None,
    **sections: Any,
) -> Exporter:
    """An Exporter on `url` (not started) with a fixed clock and a private self-metrics registry."""
    config = make_config(url, **sections)
    return Exporter(
        lambda: config, clock=clock or FixedClock(), metrics=SelfMetrics(process=False), candidates=candidates
    )


def collect(
    url: str,
    *,
    clock: FixedClock | None = None,
    candidates: Iterable[Candidate] | None = None,
    openmetrics: bool = False,
    **sections: Any,
) -> Exposition:
    """One synchronous collection of every provider, parsed."""
    exporter = make_exporter(url, clock=clock, candidates=candidates, **sections)
    try:
        results = exporter.collect_once()
        body = exporter.scrape(openmetrics=openmetrics, gzip=False)
    finally:
        exporter.stop()
    return Exposition.parse(b"".join(body.pieces).decode(), results)


def vendor_labels(category: str, key: str, platform: str, vendor: str, **extra: str) -> Mapping[str, str]:
    return {"category": category, "key": key, "platform": platform, "vendor": vendor, **extra}
