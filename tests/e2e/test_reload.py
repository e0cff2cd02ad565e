"""Reload on SIGHUP and POST /-/reload: valid configs apply as one step, invalid ones change nothing;
SIGTERM stops cleanly."""

from __future__ import annotations

import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine

from exporter.schema import reference_tables
from tests.support.builders import Rows
from tests.support.exporting import Exposition
from tests.support.faultkit import scrape, status, wait_until
from tests.support.processes import ExporterProcess


def _database(path: Path, vendors: list[str]) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    reference_tables().metadata.create_all(engine)
    rows = Rows(engine)
    platform = rows.platform("p1")
    for code in vendors:
        vendor = rows.vendor(code)
        rows.link(vendor, platform)
        rows.order(vendor, 500)
    engine.dispose()
    return url


def _config(url: str, **sections: Any) -> dict[str, Any]:
    return {
        "database": {"url": url},
        "server": {"reload_endpoint": True},
        "collection": {"interval": "1s"},
        **sections,
    }


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[ExporterProcess, str]]:
    url = _database(tmp_path / "a.sqlite", ["va1", "va2"])
    exporter = ExporterProcess(tmp_path, config=_config(url))
    try:
        exporter.wait_ready()
        yield exporter, url
    finally:
        exporter.stop()


def _rewrite(exporter: ExporterProcess, config: dict[str, Any] | str) -> None:
    assert exporter.config_path is not None
    exporter.config_path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))


def _post_reload(exporter: ExporterProcess) -> int:
    request = urllib.request.Request(f"{exporter.url}/-/reload", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def _vendors(exposition: Exposition) -> set[str]:
    return {dict(labels)["vendor"] for labels in exposition.series("commerce_vendor_info")}


def test_sighup_applies_a_valid_config(started: tuple[ExporterProcess, str]) -> None:
    """A disabled provider's series and self-metrics go, the reload gauge stays 1 and its time moves on."""
    exporter, url = started
    before = wait_until(
        lambda: (e := scrape(exporter.url)) and e.series("commerce_vendor_orders") and e, message="orders series"
    )
    reloaded_at = before.value("commerce_exporter_config_last_reload_success_timestamp_seconds") or 0
    time.sleep(1.1)  # the timestamp has a resolution of the wall clock; make the next one differ
    _rewrite(exporter, _config(url, providers={"orders": {"enabled": False}}))
    exporter.process.send_signal(signal.SIGHUP)
    after = wait_until(
        lambda: (e := scrape(exporter.url)) and not e.series("commerce_vendor_orders") and e,
        message="orders series gone after the reload",
    )
    assert after.value("commerce_exporter_config_last_reload_successful") == 1
    assert (after.value("commerce_exporter_config_last_reload_success_timestamp_seconds") or 0) > reloaded_at
    assert after.value("commerce_exporter_provider_up", provider="orders") is None
    assert after.value("commerce_exporter_provider_up", provider="tenancy") == 1
    assert "configuration reloaded: 6 provider(s)" in exporter.log()
    assert status(exporter.url, "/-/ready") == 200


def test_invalid_config_keeps_the_running_one_and_says_why(started: tuple[ExporterProcess, str]) -> None:
    """POST /-/reload with a broken file: 500, gauge 0, the log names the path, series keep coming."""
    exporter, url = started
    before = wait_until(
        lambda: (e := scrape(exporter.url)) and e.series("commerce_vendor_orders") and e, message="orders series"
    )
    _rewrite(exporter, _config(url, collection={"interval": "soon"}))
    assert _post_reload(exporter) == 500
    after = scrape(exporter.url)
    assert after.value("commerce_exporter_config_last_reload_successful") == 0
    assert after.series("commerce_vendor_orders") == before.series("commerce_vendor_orders")
    assert after.value("commerce_exporter_provider_up", provider="orders") == 1
    log = exporter.log()
    assert "configuration reload failed, keeping the running configuration" in log
    assert 'collection.interval: expected a duration like 30s, 5m, 1h30m or 30d, got "soon"' in log

    _rewrite(exporter, "database: [this is: not, yaml")
    assert _post_reload(exporter) == 500
    assert "not valid YAML" in exporter.log()

    _rewrite(exporter, _config(url))
    assert _post_reload(exporter) == 200
    assert scrape(exporter.url).value("commerce_exporter_config_last_reload_successful") == 1


def test_switching_databases_never_serves_the_old_one_after_the_reload(
    started: tuple[ExporterProcess, str], tmp_path: Path
) -> None:
    """Once POST /-/reload returns, no scrape shows vendors of the previous database."""
    exporter, _ = started
    wait_until(lambda: _vendors(scrape(exporter.url)) == {"va1", "va2"}, message="vendors of database A")
    other = _database(tmp_path / "b.sqlite", ["vb1"])
    _rewrite(exporter, _config(other))
    assert _post_reload(exporter) == 200
    for _ in range(30):
        assert not _vendors(scrape(exporter.url)) & {"va1", "va2"}
        time.sleep(0.05)
    assert wait_until(lambda: _vendors(scrape(exporter.url)) == {"vb1"}, message="vendors of database B")


def test_each_scrape_sees_one_configuration_while_reloads_happen(started: tuple[ExporterProcess, str]) -> None:
    """Alternating the namespace by repeated reloads, every scrape carries exactly one namespace."""
    exporter, url = started
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def scraper() -> None:
        while not done.is_set():
            try:
                exposition = scrape(exporter.url)
            except BaseException as err:  # reported below: a scrape must never fail during a reload
                errors.append(err)
                return
            seen.append(
                {
                    name.split("_", 1)[0]
                    for name in exposition.names()
                    if not name.startswith(("commerce_exporter_", "process_", "python_"))
                }
            )

    thread = threading.Thread(target=scraper, daemon=True)
    thread.start()
    try:
        for namespace in ("shop", "commerce", "shop", "commerce", "shop"):
            _rewrite(exporter, _config(url, exposition={"namespace": namespace}))
            assert _post_reload(exporter) == 200
            time.sleep(0.3)
    finally:
        done.set()
        thread.join(10)
    assert not errors, errors
    assert len(seen) > 20
    assert all(len(namespaces) <= 1 for namespaces in seen), [n for n in seen if len(n) > 1][:3]
    assert {"shop"} in seen and {"commerce"} in seen


def test_sigterm_stops_cleanly_within_seconds(started: tuple[ExporterProcess, str]) -> None:
    """SIGTERM: exit code 0 within 5 s, with the stop logged."""
    exporter, _ = started
    began = time.monotonic()
    exporter.process.send_signal(signal.SIGTERM)
    assert exporter.process.wait(10) == 0
    assert time.monotonic() - began < 5
    log = exporter.log()
    assert "stopping" in log and "stopped" in log
    assert "Traceback" not in log
