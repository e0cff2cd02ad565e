"""Money is exact: cents summed in SQL, Decimal in Python, exact decimal text in the exposition."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from providers._base import average_money, money
from tests.support.builders import NOW, Rows
from tests.support.exporting import Exposition, FixedClock, collect
from tests.support.provider_samples import raw_values
from tests.support.reference import exact_decimal

DRIFTING = {
    "TENTHS": [10] * 10,  # ten times 0.10: 0.9999999999999999 as floats
    "POINT-THREE": [10, 20],  # 0.1 + 0.2: 0.30000000000000004 as floats
    "BEYOND-2-53": [2**53 + 1],  # not representable as a float number of cents
    "BIG-AND-SMALL": [10**17, 1, 2],  # the cents vanish next to a large float
}
"""Order totals (cents) per vendor whose sums are wrong when added as floats."""

AVERAGES = {
    "HALF-CENT": [1, 2],  # 1.5 cents: 0.015, not rounded to 0.02
    "TWO-AND-A-HALF": [1, 4],  # 2.5 cents: 0.025, not rounded to 0.02
    "SIXTEENTH": [1] + [0] * 15,  # 1/16 cent: 0.000625, exact although far below the cent
    "THIRDS": [33, 33, 34],  # 100/3 cents: does not terminate
    "TWO-THIRDS": [1, 1, 0],  # 2/3 cent: does not terminate
    "HALF-OF-ODD-BIG": [2**53 + 1, 2**53 + 2],  # 2**53 + 1.5 cents: exact, 17 significant digits
    "EVEN": [1000, 2000, 3000],  # 20.00 exactly
}
"""Order totals (cents) per vendor whose averages are not whole cents, or not terminating decimals."""


def _expected_average(cents: list[int]) -> Decimal:
    """The exact quotient when it terminates, else the shortest text of the float64 nearest it."""
    return exact_decimal(Fraction(sum(cents), 100 * len(cents)))


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


def test_averages_are_exact_not_rounded_to_the_cent(writer: Engine, database_url: str) -> None:
    """Average order values are revenue ÷ revenue orders, exact where the quotient terminates."""
    _load(writer, AVERAGES)
    values = raw_values(collect(database_url, clock=FixedClock(NOW)))
    for code, cents in AVERAGES.items():
        text = _vendor_text(values, "commerce_vendor_orders_average_value_eur", "orders.average_value", code)
        assert Decimal(text) == _expected_average(cents), (code, text)
        assert "e" not in text.lower(), text


def test_average_times_count_is_the_revenue(writer: Engine, database_url: str) -> None:
    """Where the quotient terminates, average × number of orders equals the exported revenue exactly;
    where it does not, the average reads back as the float64 nearest the exact quotient."""
    _load(writer, AVERAGES)
    values = raw_values(collect(database_url, clock=FixedClock(NOW)))
    for code, cents in AVERAGES.items():
        average = _vendor_text(values, "commerce_vendor_orders_average_value_eur", "orders.average_value", code)
        revenue = _vendor_text(values, "commerce_vendor_orders_total_revenue_eur", "orders.total_revenue", code)
        exact = Fraction(sum(cents), 100 * len(cents))
        if code in ("THIRDS", "TWO-THIRDS"):
            assert Fraction(Decimal(average)) != exact  # no decimal is exact here
            assert float(average) == float(exact), (code, average)
        else:
            assert Fraction(Decimal(average)) * len(cents) == Fraction(Decimal(revenue)), (code, average, revenue)


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


def _terminates(q: Fraction) -> bool:
    rest = q.denominator
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    return rest == 1


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=1, max_value=2**63 - 1))
def test_average_money_is_exact_or_the_nearest_float(cents: int, count: int) -> None:
    """`average_money` is the exact mean when it terminates, else a decimal of at most 17 significant
    digits that reads back as the float64 nearest the exact mean, for every 64-bit sum and count."""
    exact = Fraction(cents, 100 * count)
    average = average_money(cents, count)
    if _terminates(exact):
        assert Fraction(average) == exact
    else:
        assert float(average) == float(exact)
        assert len(average.normalize().as_tuple().digits) <= 17


@given(st.decimals(min_value=-(10**20), max_value=10**20, places=4), st.integers(min_value=1, max_value=10**6))
def test_average_money_of_fractional_cents(cents: Decimal, count: int) -> None:
    """NUMERIC totals with fractions of a cent average exactly too (or to the nearest float64)."""
    exact = Fraction(cents) / (100 * count)
    average = average_money(cents, count)
    assert Fraction(average) == exact if _terminates(exact) else float(average) == float(exact)


@pytest.mark.parametrize(
    ("cents", "count", "text"),
    [
        (3, 2, "0.015"),
        (5, 2, "0.025"),
        (3000, 3, "10.00"),
        (1, 3, "0.0033333333333333335"),
        (1000, 3, "3.3333333333333335"),
        (1, 1024, "0.000009765625"),
    ],
)
def test_average_money_examples(cents: int, count: int, text: str) -> None:
    """Worked examples: exact where the quotient terminates, shortest float64 text where it does not."""
    assert str(average_money(cents, count)) == text


def test_exposition_parser_reads_money_text_as_the_nearest_float() -> None:
    """Prometheus keeps float64: the exact text parses to the float nearest the decimal amount."""
    parsed = Exposition.parse('m{a="b"} 90071992547409.93\n')
    assert parsed.value("m", a="b") == float(Decimal("90071992547409.93"))
