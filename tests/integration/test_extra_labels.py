"""`MetricValue.labels`: extra label pairs written after the owner labels; malformed ones are invalid values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exporter.contracts import MetricsContext, MetricValue
from exporter.discovery import Candidate
from tests.support.builders import NOW, Rows
from tests.support.exporting import FixedClock, collect


def _value(labels: Any, value: int = 1) -> MetricValue:
    return MetricValue(key="tiers.subscriptions", value=value, label="Subscriptions", category="tiers", labels=labels)


class Tiers:
    """Subscriptions per tier, with a few malformed label sets among them."""

    metrics_category = "tiers"

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> list[Any]:
        return [
            _value((("tier", "gold"),), 3),
            _value((("tier", 'with "quotes"\n'),), 2),
            _value((("tier", "gold"),), 9),  # the same label set again: a duplicate
            _value((("vendor", "x"),)),  # a label the exporter writes itself
            _value((("bad-name", "x"),)),  # not a label name
            _value((("tier", 5),)),  # not text
            _value((("tier", "a"), ("tier", "b"))),  # the same name twice
            _value(["tier", "gold"]),  # not pairs
        ]

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> list[Any]:
        return [_value((("tier", "gold"), ("region", "eu")), 7)]


def test_extra_labels_are_exported_and_malformed_ones_counted(writer: Engine, database_url: str) -> None:
    """Well-formed label sets go out escaped; the malformed ones are invalid (run failed, values counted)."""
    rows = Rows(writer)
    rows.link(rows.vendor("V1"), rows.platform("main"))
    exposition = collect(database_url, clock=FixedClock(NOW), candidates=[Candidate("tiers", "test", lambda: Tiers)])
    base = {"category": "tiers", "key": "tiers.subscriptions", "platform": "main"}
    assert exposition.series("commerce_vendor_tiers_subscriptions") == {
        frozenset({**base, "vendor": "V1", "tier": "gold"}.items()): 3,
        frozenset({**base, "vendor": "V1", "tier": 'with "quotes"\n'}.items()): 2,
    }
    assert exposition.series("commerce_platform_tiers_subscriptions") == {
        frozenset({**base, "tier": "gold", "region": "eu"}.items()): 7
    }
    assert exposition.value("commerce_exporter_values_dropped_total", provider="tiers", reason="invalid") == 5
    assert exposition.value("commerce_exporter_values_dropped_total", provider="tiers", reason="duplicate") == 1
    (result,) = [r for r in exposition.results if r.provider == "tiers"]
    assert result.reason == "invalid"
