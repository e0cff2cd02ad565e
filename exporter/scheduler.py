"""APScheduler jobs: one per provider on its own interval, never overlapping, plus the health tick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

MONITOR_JOB = "database-monitor"


def _job_id(provider: str) -> str:
    return f"provider:{provider}"


class Scheduler:
    """Owns the background scheduler and its two thread pools.

    Providers share a pool of `concurrency` threads; the health check has its own thread so
    a pool full of slow providers never delays it. `max_instances=1` means a provider's
    next run is skipped, not stacked, while the previous one is still going.
    """

    def __init__(self, concurrency: int) -> None:
        self._scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=concurrency),
                "monitor": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    def start(self) -> None:
        """Start the scheduler thread."""
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with `wait`, let running jobs finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def add_provider(
        self, provider: str, interval: timedelta, run: Callable[[], object], *, first_run: bool = True
    ) -> None:
        """Run `run` every `interval`, the first time right away."""
        self._scheduler.add_job(
            run,
            "interval",
            seconds=interval.total_seconds(),
            id=_job_id(provider),
            name=_job_id(provider),
            replace_existing=True,
            next_run_time=datetime.now(UTC) if first_run else None,
        )

    def remove_provider(self, provider: str) -> None:
        """Stop scheduling a provider (a run in progress finishes)."""
        try:
            self._scheduler.remove_job(_job_id(provider))
        except JobLookupError:
            log.debug("provider %s had no job", provider)

    def run_soon(self, provider: str) -> None:
        """Move a provider's next run to now (skipped if it is running: no overlap)."""
        try:
            self._scheduler.modify_job(_job_id(provider), next_run_time=datetime.now(UTC))
        except JobLookupError:
            log.debug("provider %s had no job", provider)

    def add_monitor(self, tick: Callable[[], object], every: float = 1.0) -> None:
        """The database health tick on its own executor."""
        self._scheduler.add_job(
            tick,
            "interval",
            seconds=every,
            id=MONITOR_JOB,
            name=MONITOR_JOB,
            executor="monitor",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
