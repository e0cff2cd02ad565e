"""A failing, malformed or slow provider never removes or delays the other providers' series."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from exporter.clock import SystemClock
from exporter.contracts import MetricsContext, MetricValue
from exporter.discovery import Candidate, discover
from tests.support.builders import Rows
from tests.support.exporting import Exposition, collect, make_exporter


class Raising:
    """Raises on every call."""

    metrics_category = "boom"

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> list[Any]:
        raise RuntimeError("boom")

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> list[Any]:
        raise RuntimeError("boom")


class Malformed:
    """Returns one good value next to values that are not well-formed MetricValues."""

    metrics_category = "junk"

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> list[Any]:
        return [
            MetricValue(key="junk.good", value=7, label="Good", category="junk"),
            MetricValue(key=None, value=1, label="No key", category="junk"),  # type: ignore[arg-type]
            MetricValue(key="junk.object", value=object(), label="Object", category="junk"),  # type: ignore[arg-type]
            "not a metric value",
        ]

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> list[Any]:
        return [MetricValue(key="junk.nan", value=float("nan"), label="NaN", category="junk")]


class Slow:
    """Runs a query that never finishes on its own: the statement timeout must cancel it."""

    metrics_category = "slow"

    def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> list[Any]:
        db.execute(text("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"))
        return []

    def get_platform_metrics(self, db: Session, platform_id: int, context: MetricsContext | None = None) -> list[Any]:
        return []


def bad_candidates() -> list[Candidate]:
    return [Candidate(c.metrics_category, "test", lambda c=c: c) for c in (Raising, Malformed, Slow)]


def small_platform(engine: Engine) -> None:
    rows = Rows(engine)
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.order(vendor, 1000)


def sample(exporter_metrics: Any, name: str, **labels: str) -> float | None:
    value = exporter_metrics.registry.get_sample_value(name, labels)
    return None if value is None else float(value)


ORDERS = {"category": "orders", "key": "orders.total", "platform": "main", "vendor": "V1"}


def test_failures_are_isolated_and_counted(sqlite_url: str, writer_sqlite: Engine) -> None:
    """Built-in series stay; each bad provider shows provider_up 0 and its failure reason."""
    small_platform(writer_sqlite)
    exposition = collect(
        sqlite_url, candidates=[*discover(), *bad_candidates()], database={"url": sqlite_url, "statement_timeout": "1s"}
    )
    assert exposition.value("commerce_vendor_orders", **ORDERS) == 1
    results = {r.provider: r for r in exposition.results}
    assert (results["boom"].ok, results["boom"].reason) == (False, "error")
    assert (results["junk"].ok, results["junk"].reason) == (False, "invalid")
    assert (results["slow"].ok, results["slow"].reason) == (False, "timeout")
    assert all(results[name].ok for name in ("orders", "tenancy", "catalog"))
    for provider, reason in (("boom", "error"), ("junk", "invalid"), ("slow", "timeout")):
        assert exposition.value("commerce_exporter_provider_up", provider=provider) == 0
        assert exposition.value("commerce_exporter_provider_failures_total", provider=provider, reason=reason) == 1
    assert exposition.value("commerce_exporter_provider_up", provider="orders") == 1
    assert exposition.value("commerce_exporter_provider_failures_total", provider="orders", reason="error") == 0


def test_malformed_values_are_dropped_and_the_good_one_kept(sqlite_url: str, writer_sqlite: Engine) -> None:
    """The well-formed value of a malformed batch is exported; the rest are counted as dropped."""
    small_platform(writer_sqlite)
    exposition = collect(sqlite_url, candidates=bad_candidates()[1:2], database={"url": sqlite_url})
    good = {"category": "junk", "key": "junk.good", "platform": "main", "vendor": "V1"}
    assert exposition.value("commerce_vendor_junk_good", **good) == 7
    assert exposition.value("commerce_exporter_values_dropped_total", provider="junk", reason="invalid") == 3
    assert exposition.value("commerce_exporter_values_dropped_total", provider="junk", reason="non_finite") == 1
    assert not any(name.startswith("commerce_platform_junk") for name in exposition.names())


def test_slow_provider_does_not_delay_the_others(sqlite_url: str, writer_sqlite: Engine) -> None:
    """With the scheduler running, built-in series appear while the slow provider is still stuck."""
    small_platform(writer_sqlite)
    exporter = make_exporter(
        sqlite_url,
        clock=SystemClock(),  # type: ignore[arg-type]
        candidates=[*discover(), *bad_candidates()],
        database={"url": sqlite_url, "statement_timeout": "4s", "pool_size": 4},
        collection={"interval": "30s", "concurrency": 3},
    )
    started = time.monotonic()
    exporter.start()
    try:
        exposition = None
        while time.monotonic() - started < 3:
            body = exporter.scrape(openmetrics=False, gzip=False)
            exposition = Exposition.parse(b"".join(body.pieces).decode())
            if exposition.value("commerce_vendor_orders", **ORDERS) == 1:
                break
            time.sleep(0.05)
        assert exposition is not None and exposition.value("commerce_vendor_orders", **ORDERS) == 1
        assert time.monotonic() - started < 3, "built-in providers waited for the slow one"
        assert exposition.value("commerce_exporter_provider_failures_total", provider="slow", reason="timeout") == 0
    finally:
        exporter.stop()


def test_failed_provider_keeps_its_last_good_series(sqlite_url: str, writer_sqlite: Engine) -> None:
    """A provider that fails after a good run keeps exporting the good run's series."""
    small_platform(writer_sqlite)
    calls = {"n": 0}

    class Flaky:
        metrics_category = "flaky"

        def get_vendor_metrics(self, db: Session, vendor_id: int, context: MetricsContext | None = None) -> list[Any]:
            calls["n"] += 1
            if calls["n"] > 1:
                raise RuntimeError("second run fails")
            return [MetricValue(key="flaky.value", value=3, label="Value", category="flaky")]

        def get_platform_metrics(
            self, db: Session, platform_id: int, context: MetricsContext | None = None
        ) -> list[Any]:
            return []

    exporter = make_exporter(sqlite_url, candidates=[Candidate("flaky", "test", lambda: Flaky)])
    first = exporter.collect_once()
    second = exporter.collect_once()
    body = exporter.scrape(openmetrics=False, gzip=False)
    exporter.stop()
    exposition = Exposition.parse(b"".join(body.pieces).decode())
    assert first[0].ok and not second[0].ok
    labels = {"category": "flaky", "key": "flaky.value", "platform": "main", "vendor": "V1"}
    assert exposition.value("commerce_vendor_flaky_value", **labels) == 3
    assert exposition.value("commerce_exporter_provider_up", provider="flaky") == 0
