"""Database reachability: periodic checks with exponential backoff while the server is down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from exporter.clock import Clock
from exporter.db import Database
from exporter.errors import DatabaseError
from exporter.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)


class DatabaseMonitor:
    """Pings the database; `tick()` is called every second and decides whether a check is due.

    While the database is up it is checked every `up_every` seconds; once down, retries back
    off from `min_backoff` to `max_backoff`. On the way back up `on_recovered` runs, so the
    providers refresh at once instead of waiting for their next interval.
    """

    def __init__(
        self,
        database: Database,
        metrics: SelfMetrics,
        clock: Clock,
        *,
        on_recovered: Callable[[], None] | None = None,
        up_every: float = 15.0,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.database = database
        self.metrics = metrics
        self.clock = clock
        self.on_recovered = on_recovered
        self.up_every = up_every
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.up: bool | None = None
        self._backoff = min_backoff
        self._next = 0.0
        self._lock = threading.Lock()

    def suspect(self) -> None:
        """A provider hit a database error: check at the next tick."""
        self._next = 0.0

    def confirm(self) -> None:
        """A provider run just succeeded: if the database was thought down, check it now, not after the backoff."""
        if self.up is True:
            return
        if self._lock.acquire(blocking=False):
            try:
                self.check()
            finally:
                self._lock.release()
        else:
            self.suspect()  # the monitor is checking right now

    def tick(self) -> None:
        """Run a check when one is due."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self.clock.monotonic() >= self._next:
                self.check()
        finally:
            self._lock.release()

    def check(self, *, notify: bool = True) -> bool:
        """Ping now; update the gauge, the schedule and (with `notify`), on recovery, wake the providers."""
        try:
            self.database.ping()
        except DatabaseError as err:
            if self.up is not False:
                log.warning("database %s unreachable: %s", self.database.display_url, err)
            self.up = False
            self.metrics.database_up.set(0)
            self._next = self.clock.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.max_backoff)
            return False
        recovered = self.up is False
        if self.up is not True:
            log.info("database %s reachable", self.database.display_url)
        self.up = True
        self.metrics.database_up.set(1)
        self._backoff = self.min_backoff
        self._next = self.clock.monotonic() + self.up_every
        if recovered and notify and self.on_recovered is not None:
            self.on_recovered()
        return True
