"""A reload that fails while it is being applied is reported as failed and keeps the running configuration."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import create_engine

from exporter.app import Exporter
from exporter.config import Config
from exporter.selfmetrics import SelfMetrics
from tests.support.builders import Rows
from tests.support.exporting import FixedClock, make_config
from tests.support.faultkit import scrape, wait_until
from tests.support.processes import ExporterProcess


def _post_reload(exporter: ExporterProcess) -> tuple[int, str]:
    request = urllib.request.Request(f"{exporter.url}/-/reload", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_config_that_cannot_be_scheduled_fails_the_reload_and_keeps_the_old_one(sqlite_url: str) -> None:
    """An interval the scheduler cannot plan (validation bypassed): reload() says so, gauge 0, old jobs keep running."""
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    good = make_config(sqlite_url, collection={"interval": "1s"})
    # model_copy does not validate: this is a config the validator would refuse, reaching the scheduler.
    bad = good.model_copy(
        update={"collection": good.collection.model_copy(update={"interval": timedelta(days=3_650_000)})}
    )
    configs: list[Config] = [good]
    metrics = SelfMetrics(process=False)
    exporter = Exporter(lambda: configs[-1], clock=FixedClock(), metrics=metrics)
    exporter.start()
    try:
        running = exporter.runtime
        configs.append(bad)
        result = exporter.reload()
        assert not result.ok
        assert "cannot schedule a run every" in result.reason
        assert metrics.reload_successful._value.get() == 0
        assert exporter.runtime is running
        assert exporter.scheduler is not None
        runs = metrics.provider_runs.labels("orders")._value.get()
        wait_until(
            lambda: metrics.provider_runs.labels("orders")._value.get() > runs + 1,
            timeout=10,
            message="orders runs on the running configuration",
        )
        configs.append(good)
        assert exporter.reload().ok
        assert metrics.reload_successful._value.get() == 1
    finally:
        exporter.stop(wait=True)


def test_an_interval_beyond_the_scheduler_is_a_failed_reload_over_sighup_and_http(
    tmp_path: Path, sqlite_url: str
) -> None:
    """`interval: 3650000d` on SIGHUP and POST /-/reload: gauge 0, a clear log line and answer, series keep coming."""
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    config = {"database": {"url": sqlite_url}, "server": {"reload_endpoint": True}, "collection": {"interval": "1s"}}
    exporter = ExporterProcess(tmp_path, config=config)
    try:
        exporter.wait_ready()
        assert exporter.config_path is not None
        exporter.config_path.write_text(yaml.safe_dump({**config, "collection": {"interval": "3650000d"}}))
        exporter.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: scrape(exporter.url).value("commerce_exporter_config_last_reload_successful") == 0,
            message="reload reported as failed",
        )
        status, body = _post_reload(exporter)
        assert status == 500
        assert "Reload failed; the previous configuration is still running." in body
        assert "collection.interval: expected at most 365d" in body
        before = scrape(exporter.url).value("commerce_exporter_provider_runs_total", provider="orders") or 0
        time.sleep(2.5)
        after = scrape(exporter.url)
        assert (after.value("commerce_exporter_provider_runs_total", provider="orders") or 0) > before
        assert after.value("commerce_exporter_provider_up", provider="orders") == 1
        log = exporter.log()
        assert "configuration reload failed, keeping the running configuration" in log
        assert "never retrieved" not in log and "Traceback" not in log and "OverflowError" not in log
    finally:
        exporter.stop()
