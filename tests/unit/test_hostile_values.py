"""Hostile provider output and hostile names: valid exposition that reads back exactly, or dropped and counted."""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from sqlalchemy import create_engine

from exporter.contracts import MetricValue
from exporter.directory import Directory, PlatformInfo, Shard, VendorInfo, plan_run
from exporter.discovery import Candidate
from exporter.exposition import Format, prepare
from exporter.families import FamilyBuilder
from tests.support.builders import NOW, Rows
from tests.support.exporting import FixedClock, make_exporter
from tests.support.provider_samples import PLAIN_VENDOR

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

HOSTILE = st.sampled_from(
    [
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\x00",
        "é",
        "€",
        "\u2028",
        "\U0001f600",
        "{",
        "}",
        "=",
        ",",
        " ",
        "#",
        "_",
        "%",
        "a",
        "Z",
        "9",
        "\ud800",
    ]
)
"""Characters that break naive exposition writers (quotes, backslashes, newlines, NUL, a lone surrogate)."""

text = st.one_of(st.text(max_size=12), st.text(HOSTILE, max_size=12))
db_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
"""What a database can hand back: any character but a lone surrogate."""

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-(10**12), max_value=10**12),
    st.booleans(),
)
values = st.one_of(numbers, text, st.none())
units = st.one_of(
    st.none(), st.sampled_from(["%", " % ", "EUR", "eur", "bytes", "items", "count", "", "seconds"]), text
)

metric_values = st.builds(
    MetricValue,
    key=st.one_of(st.sampled_from(["orders.total", "orders.total_revenue", "a", "a.b", "total"]), text),
    value=values,
    label=text,
    category=st.one_of(st.sampled_from(["orders", "catalog"]), text),
    description=st.one_of(st.none(), text),
    unit=units,
    period=st.one_of(st.none(), st.sampled_from(["30d", "7d"]), text),
)
junk = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(MetricValue, key=st.integers(), value=st.integers(), label=text, category=text),
    st.builds(MetricValue, key=text, value=st.lists(st.integers(), max_size=2), label=text, category=text),
    st.builds(MetricValue, key=text, value=st.integers(), label=st.integers(), category=text),
    st.builds(MetricValue, key=st.just("   "), value=st.integers(), label=text, category=text),
)
outputs = st.lists(st.one_of(metric_values, metric_values, junk), max_size=8)


def _expected_number(value: MetricValue) -> float | None:
    """The sample value Prometheus should read for a numeric value (None when it cannot be exported)."""
    raw = value.value
    scale = 100 if (value.unit or "").strip() == "%" else 1
    try:
        number = float(raw)  # type: ignore[arg-type]
    except ArithmeticError:  # beyond float range, or a signalling NaN
        return None
    if not math.isfinite(number):
        return None
    return number / scale


def _text(value: str) -> bool:
    """Encodable as UTF-8 (a lone surrogate is not text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _well_typed(value: object) -> bool:
    """The types the protocol promises."""
    if not isinstance(value, MetricValue):
        return False
    strings = (value.key, value.category, value.label)
    optional = (value.description, value.unit, value.period)
    return (
        all(isinstance(s, str) for s in strings)
        and bool(value.key.strip())
        and all(s is None or isinstance(s, str) for s in optional)
        and (value.value is None or isinstance(value.value, (bool, int, float, Decimal, str)))
    )


def _well_formed(value: object) -> bool:
    """Well typed, and every string that becomes a label value is real text."""
    if not isinstance(value, MetricValue) or not _well_typed(value):
        return False
    labels = [value.key, value.category, value.period or ""]
    if isinstance(value.value, str):
        labels.append(value.value)
    return all(_text(s) for s in labels)


def _render(
    vendor: VendorInfo, platform: PlatformInfo, vendor_values: list[Any], platform_values: list[Any]
) -> tuple[str, Counter[Any]]:
    directory = Directory(
        platforms={platform.id: platform}, vendors={vendor.id: vendor}, members={platform.id: (vendor.id,)}
    )
    plan = plan_run("hostile", directory, {}, Shard())
    builder = FamilyBuilder("commerce", "hostile", "1m")
    builder.add_vendors(directory, plan, {vendor.id: vendor_values})
    builder.add_platforms(plan, {platform.id: platform_values})
    rendered = builder.build()
    prepared = prepare(rendered.families)
    return b"".join(prepared.formats[Format.TEXT].plain).decode("utf-8"), rendered.dropped


def _owner_labels(scope: str, platform: PlatformInfo, vendor: VendorInfo) -> dict[str, str]:
    return {"platform": platform.code} | ({"vendor": vendor.code} if scope == "vendor" else {})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vendor_code=db_text,
    platform_code=db_text,
    vendor_values=outputs,
    platform_values=outputs,
)
def test_every_value_reads_back_exactly_or_is_counted_as_dropped(
    vendor_code: str, platform_code: str, vendor_values: list[Any], platform_values: list[Any]
) -> None:
    """Each value is one sample both parsers read back with its labels and value, or one counted drop."""
    platform = PlatformInfo(1, platform_code, "P")
    vendor = VendorInfo(7, vendor_code, "V")
    exposition, dropped = _render(vendor, platform, vendor_values, platform_values)

    text_families = list(parse_text(exposition))
    om_families = list(parse_openmetrics(exposition + "# EOF\n"))
    samples = [s for f in text_families for s in f.samples]
    assert len(samples) == len([s for f in om_families for s in f.samples])
    assert len(samples) + sum(dropped.values()) == len(vendor_values) + len(platform_values)
    everything = vendor_values + platform_values
    # Wrong types are always "invalid"; a value that is both non-text and non-finite may count as either.
    assert (
        sum(not _well_typed(v) for v in everything)
        <= dropped["invalid"]
        <= sum(not _well_formed(v) for v in everything)
    )

    pending: dict[str, list[MetricValue]] = {
        "vendor": [v for v in vendor_values if _well_formed(v)],
        "platform": [v for v in platform_values if _well_formed(v)],
    }
    for sample in samples:
        assert METRIC_NAME.match(sample.name), sample.name
        scope = "vendor" if sample.name.startswith("commerce_vendor_") else "platform"
        assert sample.name.startswith(f"commerce_{scope}_")
        labels = dict(sample.labels)
        info = "value" in labels
        owner = _owner_labels(scope, platform, vendor)
        match = None
        for candidate in pending[scope]:
            want = {"category": candidate.category, "key": candidate.key, **owner}
            if candidate.period:
                want["period"] = candidate.period
            if isinstance(candidate.value, str):
                want["value"] = candidate.value
                if labels == want and info and sample.value == 1:
                    match = candidate
                    break
            elif labels == want and not info:
                expected = _expected_number(candidate)
                if expected is not None and math.isclose(sample.value, expected, rel_tol=1e-9, abs_tol=1e-300):
                    match = candidate
                    break
        assert match is not None, f"{sample} matches no value the provider returned"
        # By identity: MetricValue equality compares values, and Decimal('sNaN') refuses to be compared.
        pending[scope] = [c for c in pending[scope] if c is not match]


def test_hostile_names_survive_a_real_collection(sqlite_url: str) -> None:
    """Codes and names with quotes, backslashes, newlines and emoji come out escaped and read back intact."""
    hostile_platform = 'pl"at\\form\nnew'
    hostile_vendor = 'ven"dor \\ 😀\nline'
    rows = Rows(create_engine(sqlite_url))
    platform = rows.platform(hostile_platform, name='Name "quoted" \\ back\nslash')
    vendor = rows.vendor(hostile_vendor, name="Ünïcödé\u2028name")
    rows.link(vendor, platform)
    rows.order(vendor, 1234)
    exporter = make_exporter(sqlite_url, clock=FixedClock(NOW))
    try:
        exporter.collect_once()
        body = b"".join(exporter.scrape(openmetrics=True, gzip=False).pieces).decode()
    finally:
        exporter.stop()
    families = {f.name: f for f in parse_openmetrics(body)}
    vendor_info = [s.labels for s in families["commerce_vendor"].samples] if "commerce_vendor" in families else []
    assert {
        "platform": hostile_platform,
        "vendor": hostile_vendor,
        "name": "Ünïcödé\u2028name",
        **PLAIN_VENDOR,
    } in vendor_info
    orders = families["commerce_vendor_orders"].samples
    assert [(s.labels["platform"], s.labels["vendor"], s.value) for s in orders] == [
        (hostile_platform, hostile_vendor, 1.0)
    ]


class _Malformed:
    """A provider whose output breaks the protocol in several ways at once."""

    metrics_category = "malformed"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[Any]:
        return [
            MetricValue("good.one", 3, "Good", "malformed"),
            MetricValue("not.finite", float("nan"), "NaN", "malformed"),
            MetricValue(42, 1, "bad key", "malformed"),  # type: ignore[arg-type]
            "not a MetricValue",
        ]

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[Any]:
        return []


def test_malformed_output_is_dropped_and_counted(sqlite_url: str) -> None:
    """Malformed values are counted by reason, the run counts as failed (invalid), the good value is kept."""
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    exporter = make_exporter(
        sqlite_url, clock=FixedClock(NOW), candidates=[Candidate("malformed", "test", lambda: _Malformed)]
    )
    try:
        exporter.collect_once()
        body = b"".join(exporter.scrape(openmetrics=False, gzip=False).pieces).decode()
    finally:
        exporter.stop()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parse_text(body) for s in f.samples}

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    assert value("commerce_vendor_good_one", category="malformed", key="good.one", platform="p1", vendor="v1") == 3
    assert value("commerce_exporter_values_dropped_total", provider="malformed", reason="invalid") == 2
    assert value("commerce_exporter_values_dropped_total", provider="malformed", reason="non_finite") == 1
    assert value("commerce_exporter_provider_failures_total", provider="malformed", reason="invalid") == 1
    assert value("commerce_exporter_provider_up", provider="malformed") == 0
