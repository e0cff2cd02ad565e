"""A real Prometheus scrapes the exporter running on the demo database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ExporterProcess, PrometheusServer, promtool

pytestmark = pytest.mark.prometheus


@pytest.fixture
def demo_exporter(tmp_path: Path) -> Iterator[ExporterProcess]:
    exporter = ExporterProcess(tmp_path, args=["--demo"], env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")})
    try:
        yield exporter.wait_ready()
    finally:
        exporter.stop()


def test_prometheus_ingests_business_and_self_metrics(demo_exporter: ExporterProcess, tmp_path: Path) -> None:
    """Prometheus (OpenMetrics, gzip) stores vendor, platform, info and self-metric series."""
    prometheus = PrometheusServer(
        tmp_path,
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {"job_name": "commerce", "static_configs": [{"targets": [f"127.0.0.1:{demo_exporter.port}"]}]}
            ],
        },
    )
    try:
        assert prometheus.wait_for('up{job="commerce"} == 1')
        for expr in (
            "commerce_platform_orders",
            "commerce_vendor_orders_total_revenue_eur",
            "commerce_vendor_info",
            "commerce_exporter_provider_up == 1",
        ):
            assert prometheus.wait_for(expr), expr
    finally:
        prometheus.stop()


def test_collect_output_passes_promtool(demo_exporter: ExporterProcess) -> None:
    """`promtool check metrics` has no findings on the served text exposition."""
    status, _, body = demo_exporter.get("/metrics")
    assert status == 200
    result = promtool("check", "metrics", stdin=body)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
