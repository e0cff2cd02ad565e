"""Money is exact: integer cents in SQL, Decimal in Python, exact decimal text in the exposition."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from providers._base import average_money, money
from tests.builders import NOW, Rows
from tests.exporting import Exposition, FixedClock, collect
from tests.provider_samples import raw_values

DRIFTING = {
    "TENTHS": [10] * 10,  # ten times 0.10: 0.9999999999999999 as floats
    "POINT-THREE": [10, 20],  # 0.1 + 0.2: 0.30000000000000004 as floats
    "BEYOND-2-53": [2**53 + 1],  # not representable as a float number of cents
    "BIG-AND-SMALL": [10**17, 1, 2],  # the cents vanish next to a large float
}
"""Order totals (cents) per vendor whose sums are wrong when added as floats."""

AVERAGES = {
    "HALF-UP-EVEN": [1, 2],  # 1.5 cents → 2 cents
    "HALF-DOWN-EVEN": [1, 4],  # 2.5 cents → 2 cents
    "THIRDS": [33, 33, 34],  # 33.33… cents → 33 cents
    "TWO-THIRDS": [1, 1, 0],  # 0.66… cents → 1 cent
    "HALF-OF-ODD-BIG": [2**53 + 1, 2**53 + 2],  # 2**53 + 1.5 cents → 2**53 + 2 cents
}
"""Order totals (cents) per vendor whose averages need rounding to the cent, half to even."""


def _expected_average(cents: list[int]) -> Decimal:
    """Python's round() of a Fraction rounds half to even, exactly."""
    return Decimal(round(Fraction(sum(cents), len(cents)))) / 100


def _load(writer: Engine, orders: dict[str, list[int]]) -> None:
    rows = Rows(writer)
    main = rows.platform("main")
    for code, cents in orders.items():
        vendor = rows.vendor(code)
        rows.link(vendor, main)
        for amount in cents:
            rows.order(vendor, amount)


def _vendor_text(values: dict[tuple[str, frozenset[tuple[str, str]]], str], name: str, key: str, vendor: str) -> str:
    labels = {"category": "orders", "key": key, "platform": "main", "vendor": vendor}
    return values[(name, frozenset(labels.items()))]


def test_sums_that_drift_as_floats_are_exact(writer: Engine, database_url: str) -> None:
    """Each vendor's revenue is written as the exact sum of its cents ÷ 100, where float addition would drift."""
    for cents in DRIFTING.values():
        as_floats = sum(c / 100 for c in cents)
        assert Decimal(repr(as_floats)) != Decimal(sum(cents)) / 100  # the case really drifts as floats
    _load(writer, DRIFTING)
    values = raw_values(collect(database_url, clock=FixedClock(NOW)))
    for code, cents in DRIFTING.items():
        text = _vendor_text(values, "commerce_vendor_orders_total_revenue_eur", "orders.total_revenue", code)
        assert Decimal(text) == Decimal(sum(cents)) / 100, (code, text)
        assert "e" not in text.lower(), text
    platform = {"category": "orders", "key": "orders.total_revenue", "platform": "main"}
    total = sum(sum(cents) for cents in DRIFTING.values())
    assert Decimal(values[("commerce_platform_orders_total_revenue_eur", frozenset(platform.items()))]) == (
        Decimal(total) / 100
    )


def test_averages_round_half_to_even_to_the_cent(writer: Engine, database_url: str) -> None:
    """Average order values are cents ÷ orders rounded half to even to a whole cent, written exactly."""
    _load(writer, AVERAGES)
    values = raw_values(collect(database_url, clock=FixedClock(NOW)))
    for code, cents in AVERAGES.items():
        text = _vendor_text(values, "commerce_vendor_orders_average_value_eur", "orders.average_value", code)
        assert Decimal(text) == _expected_average(cents), (code, text)


def test_openmetrics_carries_the_same_exact_amounts(writer: Engine, database_url: str) -> None:
    """The OpenMetrics exposition writes money with the same exact text as the 0.0.4 format."""
    _load(writer, {"BEYOND-2-53": DRIFTING["BEYOND-2-53"]})
    text = raw_values(collect(database_url, clock=FixedClock(NOW)))
    exposition = collect(database_url, clock=FixedClock(NOW), openmetrics=True)
    lines = [line for line in exposition.text.splitlines() if line.startswith("commerce_vendor_orders_total_revenue")]
    assert len(lines) == 1
    revenue = _vendor_text(text, "commerce_vendor_orders_total_revenue_eur", "orders.total_revenue", "BEYOND-2-53")
    assert lines[0].endswith(f" {revenue}")
    assert Decimal(revenue) == Decimal(2**53 + 1) / 100


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_money_is_cents_over_one_hundred_exactly(cents: int) -> None:
    """`money(cents)` equals cents / 100 as an exact rational for every 64-bit amount."""
    assert Fraction(money(cents)) == Fraction(cents, 100)


@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=1, max_value=10**9))
def test_average_money_is_the_half_even_rounded_mean(cents: int, count: int) -> None:
    """`average_money` equals the exact mean rounded half to even to the cent, for 64-bit sums."""
    assert Fraction(average_money(cents, count)) == Fraction(round(Fraction(cents, count)), 100)


@pytest.mark.parametrize(("cents", "count", "text"), [(3, 2, "0.02"), (5, 2, "0.02"), (7, 2, "0.04"), (1, 3, "0.00")])
def test_average_money_examples(cents: int, count: int, text: str) -> None:
    """Worked examples of half-to-even rounding to the cent."""
    assert str(average_money(cents, count)) == text


def test_exposition_parser_reads_money_text_as_the_nearest_float() -> None:
    """Prometheus keeps float64: the exact text parses to the float nearest the decimal amount."""
    parsed = Exposition.parse('m{a="b"} 90071992547409.93\n')
    assert parsed.value("m", a="b") == float(Decimal("90071992547409.93"))
