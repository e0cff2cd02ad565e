"""Helpers for fault tests: a populated database on the private cluster, exporter configs with short
timeouts, scraping a running exporter, and waiting for a condition with a useful failure message."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine

from tests.support.builders import Rows
from tests.support.exporting import Exposition
from tests.support.pgcluster import PgCluster

T = TypeVar("T")

FAST = {"connect_timeout": "1s", "statement_timeout": "1s"}
"""Database timeouts short enough for tests that take seconds."""

ONLY = ("orders", "tenancy")
"""Providers the fault tests run (the others add nothing to what a fault does)."""


def fault_config(
    url: str,
    *,
    pool_size: int = 3,
    interval: str = "1s",
    stale_after: str = "5s",
    database: dict[str, Any] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """An exporter config for `url` with short intervals and timeouts, running only `ONLY`."""
    providers = {name: {"enabled": False} for name in ("catalog", "cms", "customers", "inventory", "marketplace")}
    return {
        "database": {"url": url, "pool_size": pool_size, **FAST, **(database or {})},
        "collection": {"interval": interval, "stale_after": stale_after, "concurrency": 2},
        "providers": providers,
        **sections,
    }


@dataclass
class Platform:
    """What `populate` inserted: one platform, three vendors with orders."""

    database: str
    rows: Rows

    def orders_of(self, vendor_code: str) -> int:
        vendor = next(v for v in self.rows.tables["vendors"] if v["vendor_code"] == vendor_code)
        return sum(1 for o in self.rows.tables["orders"] if o["vendor_id"] == vendor["id"])


def populate(cluster: PgCluster) -> Platform:
    """A fresh database on the cluster with platform p1 and vendors v1..v3 (1, 2 and 3 orders)."""
    name = cluster.create_database()
    engine = create_engine(cluster.url(name))
    rows = Rows(engine)
    platform = rows.platform("p1")
    for n in (1, 2, 3):
        vendor = rows.vendor(f"v{n}")
        rows.link(vendor, platform)
        for _ in range(n):
            rows.order(vendor, 1000 * n)
    engine.dispose()
    return Platform(name, rows)


def drop(cluster: PgCluster, database: str) -> None:
    """Drop a test database, ending whatever sessions are still on it."""
    cluster.start()
    with cluster.admin() as connection:
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        connection.execute(f"DROP DATABASE IF EXISTS {database}")


def scrape(url: str, *, timeout: float = 5.0) -> Exposition:
    """GET /metrics of a running exporter, parsed (text format)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as response:
        return Exposition.parse(response.read().decode())


def status(url: str, path: str) -> int:
    """The HTTP status of GET `path` (any status, no exception)."""
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = 20.0,
    every: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll until `condition()` is truthy and return it; fail with `message` (and the last error) otherwise."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (OSError, AssertionError, KeyError) as err:
            last_error = err
        time.sleep(every)
    text = message() if callable(message) else message
    raise AssertionError(f"timed out after {timeout}s waiting for {text} (last error: {last_error!r})")


def client_connections(pid: int, port: int) -> int:
    """Established TCP connections process `pid` holds to 127.0.0.1:`port` (from /proc; Linux only).

    The client's own count is exact at any instant, where the server's pg_stat_activity lags:
    a backend whose client vanished lingers until it notices.
    """
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    # /proc/net/tcp is not a consistent snapshot: under churn an entry can be listed twice, so
    # count distinct sockets.
    held: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                established = fields[3] == "01"
                if established and remote_port == port and fields[9] in inodes:
                    held.add(fields[9])
    return len(held)
