"""The HTTP surface of `commerce-exporter serve`, against the real process."""

from __future__ import annotations

import gzip
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ExporterProcess

OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    tmp = tmp_path_factory.mktemp("http")
    process = ExporterProcess(tmp, args=["--demo"], env={"COMMERCE_DEMO_DB": str(tmp / "demo.sqlite")})
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def test_metrics_text_by_default(server: ExporterProcess) -> None:
    """Without Accept the body is the 0.0.4 text format with business, info and self-metrics."""
    status, headers, body = server.get()
    text = body.decode()
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    for family in (
        "commerce_vendor_orders",
        "commerce_platform_orders",
        "commerce_vendor_info",
        "commerce_platform_info",
        "commerce_exporter_provider_up",
        "process_resident_memory_bytes",
    ):
        assert f"\n{family}{{" in text or f"\n{family} " in text, family
    assert "# EOF" not in text


def test_metrics_openmetrics_when_asked(server: ExporterProcess) -> None:
    """Accept: application/openmetrics-text gives OpenMetrics ending with # EOF."""
    status, headers, body = server.get(headers={"Accept": OPENMETRICS})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")


def test_metrics_gzip_when_accepted(server: ExporterProcess) -> None:
    """Accept-Encoding: gzip gives a gzip body that decodes to the metrics."""
    status, headers, body = server.get(headers={"Accept-Encoding": "gzip", "Accept": OPENMETRICS})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).endswith(b"# EOF\n")


def test_landing_page_links(server: ExporterProcess) -> None:
    """`/` links the metrics and health endpoints."""
    status, headers, body = server.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for link in ("href='/metrics'", "href='/-/healthy'", "href='/-/ready'"):
        assert link in body.decode()


def test_health_and_readiness(server: ExporterProcess) -> None:
    """`/-/healthy` and, after the first collection, `/-/ready` answer 200."""
    assert server.get("/-/healthy")[0] == 200
    assert server.get("/-/ready")[0] == 200


def test_unknown_path_and_wrong_method(server: ExporterProcess) -> None:
    """Unknown paths are 404; writing methods on read endpoints are 405; reload is off by default (403)."""
    assert server.get("/nope")[0] == 404
    for method in ("POST", "PUT", "DELETE"):
        request = urllib.request.Request(f"{server.url}/metrics", method=method, data=b"")
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("expected an error status")
        except urllib.error.HTTPError as err:
            assert err.code == 405
    request = urllib.request.Request(f"{server.url}/-/reload", method="POST", data=b"")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("expected an error status")
    except urllib.error.HTTPError as err:
        assert err.code == 403


def test_head_has_headers_and_no_body(server: ExporterProcess) -> None:
    """HEAD /metrics answers with the length of the GET body and no body."""
    _, _, body = server.get()
    request = urllib.request.Request(f"{server.url}/metrics", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read() == b""
        # The self-metrics part is live, so lengths can differ slightly between two requests.
        assert abs(int(response.headers["Content-Length"]) - len(body)) < 2_000


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """SIGTERM makes `serve` exit 0 within a few seconds."""
    process = ExporterProcess(tmp_path, args=["--demo"], env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")})
    process.wait_healthy()
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(10) == 0
    assert time.monotonic() - started < 5
    process.stop()
