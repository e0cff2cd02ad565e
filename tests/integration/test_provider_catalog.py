"""Every catalog key, both scopes, every backend, every layout: exported samples equal the plain-Python reference.

Each test runs on SQLite, PostgreSQL and MariaDB, in the reference naming, the store naming and
a layout whose tables are prefixed (in another PostgreSQL schema / MySQL database) and whose
columns are renamed; the expected values are the same for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine

from exporter.discovery import Candidate, discover, instantiate
from tests.support.adversarial import build_world
from tests.support.builders import NOW, Rows
from tests.support.exporting import Exposition, FixedClock, LabelSet, collect
from tests.support.layouts import LAYOUTS, LayoutDatabase
from tests.support.reference import FAMILIES, PLATFORM, VENDOR, Reference, Window, business_samples, mismatches


def _collect_world(database: LayoutDatabase, **sections: object) -> tuple[Rows, Exposition]:
    engine = create_engine(database.url)
    try:
        rows = Rows(engine, schema=database.tables)
        build_world(rows)
    finally:
        engine.dispose()
    exposition = collect(database.url, clock=FixedClock(NOW), schema=database.section, **sections)
    assert [r for r in exposition.results if not r.ok] == []
    return rows, exposition


def test_every_sample_matches_the_reference(layout_database: Callable[[str], LayoutDatabase], layout: str) -> None:
    """On the adversarial data set the exposition holds exactly the reference's samples with its values."""
    rows, exposition = _collect_world(layout_database(layout))
    expected = Reference(rows.tables, Window.ending(NOW)).expected()
    assert mismatches(expected, business_samples(exposition.samples)) == []


def test_settings_change_the_window_and_the_threshold(
    layout_database: Callable[[str], LayoutDatabase], layout: str
) -> None:
    """A 7-day period and a low-stock threshold of 3 are applied exactly as the reference applies them."""
    rows, exposition = _collect_world(
        layout_database(layout),
        collection={"period": "7d"},
        providers={"inventory": {"settings": {"low_stock_threshold": 3}}},
    )
    reference = Reference(rows.tables, Window.ending(NOW, timedelta(days=7)), period="7d", low_stock=3)
    assert mismatches(reference.expected(), business_samples(exposition.samples)) == []


def test_the_data_set_exercises_every_key_in_every_scope(
    layout_database: Callable[[str], LayoutDatabase], layout: str
) -> None:
    """Each catalog key is exported in each scope it is defined for, with a non-zero value somewhere."""
    _, exposition = _collect_world(layout_database(layout))
    seen: dict[tuple[str, str], set[float]] = {}
    for (name, labels), value in business_samples(exposition.samples).items():
        label = dict(labels)
        if "key" in label:
            scope = VENDOR if name.startswith("commerce_vendor_") else PLATFORM
            seen.setdefault((label["key"], scope), set()).add(value)
    wanted = {(key, scope) for key, (_, scopes) in FAMILIES.items() for scope in scopes}
    assert wanted - seen.keys() == set()
    assert {k for k, values in seen.items() if values <= {0.0}} == set()


def test_money_samples_are_exact_decimal_text(layout_database: Callable[[str], LayoutDatabase], layout: str) -> None:
    """Revenue and average samples are written as exact decimals, equal to the reference amounts to the cent."""
    rows, exposition = _collect_world(layout_database(layout))
    expected = Reference(rows.tables, Window.ending(NOW)).expected()
    money = {
        (name, labels): amount
        for (name, labels), amount in expected.items()
        if isinstance(amount, Decimal) and dict(labels)["key"].startswith("orders.")
    }
    assert money
    lines = dict(line.rsplit(" ", 1) for line in exposition.text.splitlines() if line and not line.startswith("#"))
    for (name, labels), amount in money.items():
        matching = [text for series, text in lines.items() if series.startswith(name + "{") and _same(series, labels)]
        assert len(matching) == 1, (name, dict(labels))
        assert Decimal(matching[0]) == amount, (name, dict(labels), matching[0])


def _same(series: str, labels: LabelSet) -> bool:
    parsed = Exposition.parse(f"{series} 0\n")
    return any(found == labels for _, found in parsed.samples)


class _PerVendorOnly:
    """A built-in provider seen through the required protocol only (one call per vendor and platform)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def metrics_category(self) -> str:
        return str(self.inner.metrics_category)

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> Any:
        return self.inner.get_vendor_metrics(db, vendor_id, context)

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> Any:
        return self.inner.get_platform_metrics(db, platform_id, context)


class _SeparateBulk(_PerVendorOnly):
    """A built-in provider without the combined call: one vendor bulk and one platform bulk call."""

    def get_vendor_metrics_bulk(self, db: Any, vendor_ids: Any, context: Any) -> Any:
        return self.inner.get_vendor_metrics_bulk(db, vendor_ids, context)

    def get_platform_metrics_bulk(self, db: Any, platform_ids: Any, context: Any) -> Any:
        return self.inner.get_platform_metrics_bulk(db, platform_ids, context)


@pytest.mark.parametrize("wrapper", [_PerVendorOnly, _SeparateBulk], ids=["per-vendor", "separate-bulk"])
def test_every_call_path_matches_the_reference(
    layout_database: Callable[[str], LayoutDatabase], layout: str, wrapper: type[_PerVendorOnly]
) -> None:
    """Per-vendor calls and the two separate bulk calls export exactly what the combined call does: the reference."""
    candidates = [
        Candidate(c.name, "test", lambda c=c: lambda: wrapper(instantiate(c).impl))  # type: ignore[misc]
        for c in discover()
    ]
    rows, exposition = _collect_world(layout_database(layout), candidates=candidates)
    expected = Reference(rows.tables, Window.ending(NOW)).expected()
    assert mismatches(expected, business_samples(exposition.samples)) == []


def _business_lines(text: str) -> list[str]:
    """HELP, TYPE and sample lines of the business families, as exposed (the exporter's own metrics left out)."""
    kept = []
    for line in text.splitlines():
        name = line.split(" ", 3)[2] if line.startswith("# ") else line
        if name.startswith("commerce_") and not name.startswith("commerce_exporter_"):
            kept.append(line)
    return kept


def test_business_samples_are_byte_identical_in_every_layout(
    layout_database: Callable[[str], LayoutDatabase],
) -> None:
    """The same rows in the reference naming, the store naming and the prefixed, renamed layout: same bytes."""
    exposed = {layout: _business_lines(_collect_world(layout_database(layout))[1].text) for layout in LAYOUTS}
    assert len(exposed["reference"]) > 300
    assert any('vendor="ÅSA-Ω"' in line for line in exposed["reference"])
    assert exposed["store"] == exposed["reference"]
    assert exposed["prefixed"] == exposed["reference"]
