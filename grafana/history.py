"""A made-up past for an exposition: its business series written at earlier timestamps, as OpenMetrics.

Prometheus only compares with what it stored, so a fresh Prometheus scraping the demo has no week-old
data for the dashboards' trends. `promtool tsdb create-blocks-from openmetrics` turns the text this
writes into TSDB blocks that a Prometheus loads from its data directory at start-up. Used by the
end-to-end dashboard test and by `python -m grafana.pictures`.

The past is plausible, not real: each series' value one week earlier is its value now scaled by a
drift of its own (most counts grew over the week, some shrank), derived from its labels so the same
exposition always gives the same history. Info series and their labels are written unchanged.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.openmetrics.parser import text_string_to_metric_families

WEEK = 7 * 86400.0
BUSINESS = ("commerce_platform", "commerce_vendor")
"""Family name prefixes written into the past (the exporter's self-metrics are not)."""


@dataclass(frozen=True)
class Series:
    """One series of the exposition: sample name, labels, value now, and its family's type."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    kind: str


def business_series(openmetrics: str, prefixes: Sequence[str] = BUSINESS) -> list[Series]:
    """The series of families whose name starts with one of `prefixes`, in exposition order."""
    found = []
    for family in text_string_to_metric_families(openmetrics):
        if not family.name.startswith(tuple(prefixes)):
            continue
        for sample in family.samples:
            found.append(Series(sample.name, tuple(sorted(sample.labels.items())), sample.value, family.type))
    return found


CUMULATIVE = re.compile(
    r"_(orders|orders_cancelled|orders_refunded|orders_total_revenue_[a-z]+|customers|catalog_products|"
    r"marketplace_import_jobs|marketplace_import_jobs_failed|marketplace_import_errors|cms_media_files|"
    r"cms_media_size_bytes|cms_pages)$"
)
"""Families that only accumulate on a real platform (all orders, all customers…): they grew over the week."""


def drift(series: Series) -> float:
    """How much smaller the value was one week ago, as a fraction of it now.

    From 0.02 to 0.3 for what only accumulates (orders, customers, revenue), from -0.15 (it shrank)
    to 0.35 for the rest (open orders, stock, shares).
    """
    key = series.name + "".join(f"{k}={v}" for k, v in series.labels)
    spread = (zlib.crc32(key.encode()) % 1000) / 999
    if CUMULATIVE.search(series.name):
        return 0.02 + 0.28 * spread
    return -0.15 + 0.5 * spread


def value_at(series: Series, age: float) -> float:
    """The series' value `age` seconds before now: info 1, ratios within [0, 1], counts whole numbers."""
    if series.kind == "info" or not math.isfinite(series.value):
        return series.value
    factor = 1 - drift(series) * age / WEEK
    if series.name.endswith("_ratio"):
        return min(1.0, max(0.0, series.value * (1 - (1 - factor) / 3)))
    value = series.value * factor
    return float(round(value)) if float(series.value).is_integer() else round(value, 2)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def history(
    series: Iterable[Series], timestamps: Sequence[float], now: float, extra: Mapping[str, str] | None = None
) -> str:
    """OpenMetrics text with every series at every timestamp (seconds, ascending), `extra` labels added.

    `now` is the moment the series' values belong to; a timestamp `age` seconds earlier gets
    `value_at(series, age)`. Pass the `job` and `instance` labels Prometheus gives the scraped
    series, so the past continues the same series.
    """
    added = tuple((extra or {}).items())
    families: dict[str, list[Series]] = {}
    kinds: dict[str, str] = {}
    for one in series:
        family = one.name.removesuffix("_info") if one.kind == "info" else one.name
        families.setdefault(family, []).append(one)
        kinds[family] = one.kind
    lines = []
    for family, members in families.items():
        lines.append(f"# TYPE {family} {kinds[family]}")
        for one in members:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(one.labels + added))
            for moment in timestamps:
                lines.append(f"{one.name}{{{labels}}} {_number(value_at(one, now - moment))} {moment:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
