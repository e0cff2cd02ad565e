"""Real faults on a private PostgreSQL cluster (stopped, crashed, cut, slowed, frozen) and what the
exporter shows for each on /metrics, /-/ready and in its log."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from exporter.db import Database
from exporter.errors import DatabaseError
from tests.support.exporting import Exposition
from tests.support.faultkit import (
    Platform,
    client_connections,
    drop,
    fault_config,
    populate,
    scrape,
    status,
    wait_until,
)
from tests.support.pgcluster import APPLICATION_NAME, PgCluster
from tests.support.processes import ExporterProcess
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.postgresql


@pytest.fixture
def platform(pg_cluster: PgCluster) -> Iterator[Platform]:
    pg_cluster.start()
    created = populate(pg_cluster)
    yield created
    drop(pg_cluster, created.database)


@pytest.fixture
def proxy(pg_cluster: PgCluster) -> Iterator[TcpProxy]:
    tcp = TcpProxy(("127.0.0.1", pg_cluster.port))
    yield tcp
    tcp.close()


@pytest.fixture
def run_exporter(tmp_path: Path) -> Iterator[list[ExporterProcess]]:
    """Exporters a test starts; each is stopped at the end (even when the test failed)."""
    started: list[ExporterProcess] = []
    yield started
    for exporter in started:
        exporter.stop()


def _start(started: list[ExporterProcess], tmp_path: Path, config: dict[str, object]) -> ExporterProcess:
    exporter = ExporterProcess(tmp_path, config=config)
    started.append(exporter)
    return exporter.wait_healthy()


def _orders(exposition: Exposition, vendor: str) -> float | None:
    return exposition.value(
        "commerce_vendor_orders", category="orders", key="orders.total", platform="p1", vendor=vendor
    )


def _failures(exposition: Exposition, provider: str, reason: str) -> float:
    return exposition.value("commerce_exporter_provider_failures_total", provider=provider, reason=reason) or 0.0


def _lock_orders(pg_cluster: PgCluster, database: str) -> psycopg.Connection[tuple[object, ...]]:
    """Hold an ACCESS EXCLUSIVE lock on orders: every query on it waits (a long migration, say)."""
    connection = psycopg.connect(host="127.0.0.1", port=pg_cluster.port, user="postgres", dbname=database)
    connection.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
    return connection


def _waiting_on_lock(pg_cluster: PgCluster) -> bool:
    with pg_cluster.admin() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (APPLICATION_NAME,),
        ).fetchone()
    return row is not None and int(str(row[0])) > 0


# --- the database is down ---------------------------------------------------------------------


def test_database_down_at_start_serves_self_metrics_then_becomes_ready_on_its_own(
    pg_cluster: PgCluster, platform: Platform, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """Started with the server down: healthy, not ready, database_up 0; ready by itself once it is up."""
    pg_cluster.stop()
    exporter = _start(run_exporter, tmp_path, fault_config(pg_cluster.url(platform.database)))

    down = wait_until(
        lambda: (e := scrape(exporter.url)) and _failures(e, "orders", "error") >= 1 and e,
        message="a failed orders run",
    )
    assert down.value("commerce_exporter_database_up") == 0
    assert down.value("commerce_exporter_provider_up", provider="orders") == 0
    assert list(down.series("commerce_exporter_build_info").values()) == [1.0]
    assert _orders(down, "v1") is None
    assert status(exporter.url, "/-/ready") == 503
    assert status(exporter.url, "/-/healthy") == 200

    pg_cluster.start()
    wait_until(lambda: status(exporter.url, "/-/ready") == 200, message="/-/ready after the database came up")
    up = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v3") is not None and e,
        message="vendor series after recovery",
    )
    assert up.value("commerce_exporter_database_up") == 1
    assert up.value("commerce_exporter_provider_up", provider="orders") == 1
    assert _orders(up, "v3") == platform.orders_of("v3")
    log = exporter.log()
    assert "unreachable" in log and "reachable" in log
    assert "Traceback" not in log


def test_outage_mid_run_keeps_last_good_series_until_stale_then_recovers(
    pg_cluster: PgCluster, platform: Platform, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """Server stopped mid-run: provider_up 0 and failures count up, the last series stay for
    stale_after and then go; when the server returns the series come back without a restart."""
    exporter = _start(run_exporter, tmp_path, fault_config(pg_cluster.url(platform.database), stale_after="5s"))
    exporter.wait_ready()
    before = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v2") is not None and e, message="vendor series"
    )
    assert _orders(before, "v2") == platform.orders_of("v2")

    pg_cluster.stop()
    stopped = time.monotonic()
    failing = wait_until(
        lambda: (e := scrape(exporter.url)) and _failures(e, "orders", "error") >= 2 and e,
        message="two failed orders runs",
    )
    assert failing.value("commerce_exporter_provider_up", provider="orders") == 0
    if time.monotonic() - stopped < 3.0:  # still inside stale_after (5 s) minus one interval of slack
        assert _orders(failing, "v2") == platform.orders_of("v2"), "last good value kept while fresh"
    assert status(exporter.url, "/-/ready") == 503
    wait_until(lambda: scrape(exporter.url).value("commerce_exporter_database_up") == 0, message="database_up 0")

    gone = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v2") is None and e,
        timeout=15,
        message="series gone after stale_after",
    )
    assert time.monotonic() - stopped >= 5.0 - 1.0 - 0.5, "series must stay until stale_after"
    assert gone.value("commerce_exporter_provider_series", provider="orders") == 0
    assert not gone.series("commerce_vendor_info")

    pg_cluster.start()
    back = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v2") is not None and e,
        timeout=20,
        message="series back after the outage",
    )
    assert back.value("commerce_exporter_provider_up", provider="orders") == 1
    wait_until(lambda: status(exporter.url, "/-/ready") == 200, timeout=5, message="ready after the outage")
    log = exporter.log()
    assert "provider orders failed (error)" in log
    assert "Traceback" not in log


def test_crash_and_restart_recovers_without_restarting_the_exporter(
    pg_cluster: PgCluster, platform: Platform, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """An immediate (crash) shutdown kills pooled connections; after restart the pool reconnects by itself."""
    exporter = _start(run_exporter, tmp_path, fault_config(pg_cluster.url(platform.database)))
    exporter.wait_ready()
    runs = scrape(exporter.url).value("commerce_exporter_provider_runs_total", provider="orders") or 0
    pg_cluster.stop("immediate")
    pg_cluster.start()
    after = wait_until(
        lambda: (
            (e := scrape(exporter.url))
            and (e.value("commerce_exporter_provider_runs_total", provider="orders") or 0) >= runs + 3
            and e.value("commerce_exporter_provider_up", provider="orders") == 1
            and e
        ),
        message="orders healthy again after the crash",
    )
    assert _orders(after, "v1") == platform.orders_of("v1")
    assert pg_cluster.sessions() <= 3


# --- the network misbehaves -------------------------------------------------------------------


def test_connection_cut_mid_query_fails_that_run_and_the_next_one_recovers(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """A query in flight when the connection is reset fails as an error; the next run reconnects."""
    config = fault_config(pg_cluster.url(platform.database, port=proxy.port), database={"statement_timeout": "10s"})
    exporter = _start(run_exporter, tmp_path, config)
    exporter.wait_ready()
    errors_before = _failures(scrape(exporter.url), "orders", "error")

    lock = _lock_orders(pg_cluster, platform.database)
    try:
        wait_until(lambda: _waiting_on_lock(pg_cluster), message="an exporter query waiting on the lock")
        assert proxy.cut() >= 1
    finally:
        lock.close()
    cut = wait_until(
        lambda: (e := scrape(exporter.url)) and _failures(e, "orders", "error") > errors_before and e,
        message="the cut run counted as an error",
    )
    assert cut.value("commerce_exporter_provider_up", provider="orders") in (0, 1)  # the next run may be done
    wait_until(
        lambda: scrape(exporter.url).value("commerce_exporter_provider_up", provider="orders") == 1,
        message="orders up again",
    )
    assert "provider orders failed (error)" in exporter.log()
    wait_until(lambda: pg_cluster.sessions() <= 3, message="no more sessions than the pool size")


def test_statement_timeout_fires_on_the_server(
    pg_cluster: PgCluster, platform: Platform, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """A query stuck behind a lock for longer than statement_timeout fails with reason timeout."""
    exporter = _start(run_exporter, tmp_path, fault_config(pg_cluster.url(platform.database)))
    exporter.wait_ready()
    lock = _lock_orders(pg_cluster, platform.database)
    try:
        timed_out = wait_until(
            lambda: (e := scrape(exporter.url)) and _failures(e, "orders", "timeout") >= 1 and e,
            message="an orders timeout",
        )
        assert timed_out.value("commerce_exporter_provider_up", provider="orders") == 0
        assert timed_out.value("commerce_exporter_provider_up", provider="tenancy") == 1, "others unaffected"
        assert (timed_out.value("commerce_exporter_provider_duration_seconds", provider="orders") or 99) < 3
    finally:
        lock.close()
    wait_until(
        lambda: scrape(exporter.url).value("commerce_exporter_provider_up", provider="orders") == 1,
        message="orders up after the lock is gone",
    )
    assert "canceling statement due to statement timeout" in exporter.log()


def test_answers_stuck_in_the_network_are_cut_off_client_side(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """The server cancels at statement_timeout but the answer never arrives (network frozen): the
    client-side watchdog ends the call at statement_timeout + connect_timeout, reason timeout."""
    config = fault_config(pg_cluster.url(platform.database, port=proxy.port))
    exporter = _start(run_exporter, tmp_path, config)
    exporter.wait_ready()
    lock = _lock_orders(pg_cluster, platform.database)
    try:
        wait_until(lambda: _waiting_on_lock(pg_cluster), message="an exporter query waiting on the lock")
        proxy.freeze()
        wait_until(lambda: "client-side limit" in exporter.log(), timeout=10, message="the watchdog firing")
    finally:
        proxy.thaw()
        lock.close()
    after = wait_until(
        lambda: (e := scrape(exporter.url)) and _failures(e, "orders", "timeout") >= 1 and e,
        message="the frozen run counted as a timeout",
    )
    assert (after.value("commerce_exporter_provider_duration_seconds", provider="orders") or 0) < 60
    assert "no answer from the database within 2s" in exporter.log()
    wait_until(
        lambda: scrape(exporter.url).value("commerce_exporter_provider_up", provider="orders") == 1,
        message="orders up after the network is back",
    )


def test_latency_above_the_timeouts_bounds_every_run(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """With 3 s of latency each way and 1 s timeouts, runs fail within a few seconds instead of hanging."""
    config = fault_config(pg_cluster.url(platform.database, port=proxy.port))
    exporter = _start(run_exporter, tmp_path, config)
    exporter.wait_ready()
    proxy.latency = 3.0
    slowed = time.monotonic()
    failed = wait_until(
        lambda: (
            (e := scrape(exporter.url))
            and _failures(e, "orders", "error") + _failures(e, "orders", "timeout") >= 2
            and e
        ),
        timeout=30,
        message="two orders runs failing under latency",
    )
    # Two runs ended (rather than one run hanging on a 6 s round trip per statement).
    assert time.monotonic() - slowed < 20
    assert (failed.value("commerce_exporter_provider_duration_seconds", provider="orders") or 99) < 5
    assert status(exporter.url, "/-/healthy") == 200
    proxy.latency = 0.0
    wait_until(
        lambda: scrape(exporter.url).value("commerce_exporter_provider_up", provider="orders") == 1,
        timeout=30,
        message="orders up after latency is gone",
    )


# --- data that vanishes -----------------------------------------------------------------------


def test_deleted_vendor_and_deactivated_link_disappear_at_the_next_successful_run(
    pg_cluster: PgCluster, platform: Platform, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """Deleting v2 and deactivating v3's link removes their series and info at the next run; v1 stays."""
    exporter = _start(run_exporter, tmp_path, fault_config(pg_cluster.url(platform.database), stale_after="1h"))
    exporter.wait_ready()
    first = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v3") is not None and e, message="all vendors exported"
    )
    assert {dict(k)["vendor"] for k in first.series("commerce_vendor_info")} == {"v1", "v2", "v3"}
    with pg_cluster.admin(platform.database) as connection:
        v2 = connection.execute("SELECT id FROM vendors WHERE vendor_code = 'v2'").fetchone()
        v3 = connection.execute("SELECT id FROM vendors WHERE vendor_code = 'v3'").fetchone()
        assert v2 is not None and v3 is not None
        connection.execute("DELETE FROM orders WHERE vendor_id = %s", (v2[0],))
        connection.execute("DELETE FROM vendor_platforms WHERE vendor_id = %s", (v2[0],))
        connection.execute("DELETE FROM vendors WHERE id = %s", (v2[0],))
        connection.execute("UPDATE vendor_platforms SET is_active = false WHERE vendor_id = %s", (v3[0],))
    after = wait_until(
        lambda: (e := scrape(exporter.url)) and _orders(e, "v2") is None and _orders(e, "v3") is None and e,
        message="v2 and v3 gone",
    )
    vendors = {dict(labels).get("vendor") for name, labels in after.samples if name.startswith("commerce_vendor_")}
    assert vendors == {"v1"}
    assert _orders(after, "v1") == platform.orders_of("v1")
    total = after.value("commerce_platform_orders", category="orders", key="orders.total", platform="p1")
    assert total == platform.orders_of("v1")


# --- resources --------------------------------------------------------------------------------


def test_faults_never_leak_connections(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """Through cuts, killed backends and a restart, the exporter never holds more than pool_size
    connections, the server's sessions settle back to at most pool_size, and end at 0 after stop."""
    config = fault_config(pg_cluster.url(platform.database, port=proxy.port), pool_size=3, interval="200ms")
    exporter = _start(run_exporter, tmp_path, config)
    exporter.wait_ready()
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, client_connections(exporter.process.pid, proxy.port))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        for _ in range(5):
            proxy.cut()
            time.sleep(0.4)
            pg_cluster.terminate()
            time.sleep(0.4)
        pg_cluster.stop("immediate")
        pg_cluster.start()
        wait_until(
            lambda: scrape(exporter.url).value("commerce_exporter_provider_up", provider="orders") == 1,
            message="orders up after the faults",
        )
    finally:
        stop.set()
        sampler.join(5)
    assert 1 <= peak <= 3, peak
    wait_until(lambda: pg_cluster.sessions() <= 3, timeout=10, message="server sessions back to the pool size")
    assert exporter.stop() == 0
    wait_until(lambda: pg_cluster.sessions() == 0, timeout=10, message="sessions closed after stop")


def test_timed_out_connection_attempts_release_their_sockets_at_once(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy
) -> None:
    """Connects that time out on a frozen network hold no socket afterwards, garbage collector or not."""
    database = Database(
        pg_cluster.url(platform.database, port=proxy.port), pool_size=3, connect_timeout=1, statement_timeout=1
    )
    collecting = gc.isenabled()
    gc.disable()  # the cycle psycopg leaves is for the GC to break; the exporter must not depend on it
    try:
        database.ping()
        proxy.freeze()
        for _ in range(2):
            with pytest.raises(DatabaseError):
                database.ping()
            assert client_connections(os.getpid(), proxy.port) == 0
    finally:
        if collecting:
            gc.enable()
        proxy.thaw()
        database.dispose()


def test_sigterm_stops_within_seconds_even_with_a_frozen_database(
    pg_cluster: PgCluster, platform: Platform, proxy: TcpProxy, run_exporter: list[ExporterProcess], tmp_path: Path
) -> None:
    """SIGTERM while queries hang on a frozen network: the process exits 0 within a few seconds."""
    config = fault_config(
        pg_cluster.url(platform.database, port=proxy.port),
        database={"statement_timeout": "30s", "connect_timeout": "30s"},
    )
    exporter = _start(run_exporter, tmp_path, config)
    exporter.wait_ready()
    lock = _lock_orders(pg_cluster, platform.database)
    try:
        wait_until(lambda: _waiting_on_lock(pg_cluster), message="an exporter query waiting on the lock")
        proxy.freeze()
        started = time.monotonic()
        exporter.process.send_signal(signal.SIGTERM)
        code = exporter.process.wait(15)
        elapsed = time.monotonic() - started
    finally:
        proxy.thaw()
        lock.close()
    assert code == 0
    assert elapsed < 8, elapsed
    assert "stopping" in exporter.log()
