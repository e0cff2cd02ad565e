"""Provider runs pause CPython's cyclic garbage collector and always turn it back on."""

from __future__ import annotations

import gc
from collections.abc import Collection
from typing import Any

import pytest

from exporter.contracts import MetricsContext, MetricValue
from exporter.discovery import Candidate
from providers.catalog import CatalogMetricsProvider
from tests.support.exporting import collect
from tests.support.platform_data import build_platforms


class Observing(CatalogMetricsProvider):
    """The catalog provider, noting whether the collector was on while it computed; fails if told to."""

    def __init__(self, seen: list[bool], fail: bool) -> None:
        super().__init__()
        self.seen, self.fail = seen, fail

    def get_metrics_bulk(
        self, db: Any, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[dict[int, list[MetricValue]], dict[int, list[MetricValue]]]:
        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("provider failure")
        return super().get_metrics_bulk(db, vendor_ids, platform_ids, context)


@pytest.mark.parametrize("fail", [False, True], ids=["ok", "failing"])
def test_collector_is_off_during_a_run_and_back_on_after(sqlite_url: str, fail: bool) -> None:
    """While a provider computes, gc is disabled; after the run, failed or not, it is enabled again."""
    build_platforms(sqlite_url)
    seen: list[bool] = []
    candidates = [Candidate("catalog", "test", lambda: lambda: Observing(seen, fail))]
    assert gc.isenabled()
    exposition = collect(sqlite_url, candidates=candidates)
    assert seen == [False]
    assert gc.isenabled()
    assert exposition.value("commerce_exporter_provider_up", provider="catalog") == (0 if fail else 1)


def test_collector_left_off_by_the_application_stays_off(sqlite_url: str) -> None:
    """If the embedding application disabled gc itself, a run does not turn it on."""
    build_platforms(sqlite_url)
    gc.disable()
    try:
        collect(sqlite_url, candidates=[Candidate("catalog", "test", lambda: CatalogMetricsProvider)])
        assert not gc.isenabled()
    finally:
        gc.enable()
