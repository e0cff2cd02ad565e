"""The running exporter: builds components from a config, schedules them, reloads atomically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from exporter.clock import Clock, SystemClock
from exporter.collector import CollectionSettings, Collector, RunResult
from exporter.config import Config
from exporter.db import Database
from exporter.errors import ConfigError
from exporter.exposition import Body, assemble
from exporter.health import DatabaseMonitor
from exporter.registry import Candidate, LoadedProvider, load_providers
from exporter.scheduler import Scheduler
from exporter.selfmetrics import SelfMetrics
from exporter.store import INFO, SnapshotStore

log = logging.getLogger(__name__)

ConfigLoader = Callable[[], Config]
"""Reads the configuration afresh (at start and on every reload)."""


@dataclass
class Runtime:
    """Everything built from one config; replaced as a whole on reload."""

    config: Config
    database: Database
    providers: list[LoadedProvider]
    collector: Collector
    monitor: DatabaseMonitor


def settings_of(config: Config) -> CollectionSettings:
    """The collection settings a config describes."""
    return CollectionSettings(
        namespace=config.exposition.namespace,
        vendor_series=config.exposition.vendor_series,
        period=config.collection.period,
        shard=config.collection.shard_spec,
        rules=config.rules,
    )


class Exporter:
    """Config → database, providers, collector, monitor, scheduler; `scrape()` serves the store."""

    def __init__(
        self,
        load_config: ConfigLoader,
        *,
        clock: Clock | None = None,
        metrics: SelfMetrics | None = None,
        candidates: Iterable[Candidate] | None = None,
    ) -> None:
        self.load_config = load_config
        self.clock = clock or SystemClock()
        self.metrics = metrics or SelfMetrics()
        self.store = SnapshotStore(self.clock.monotonic)
        self.candidates = list(candidates) if candidates is not None else None
        self.runtime: Runtime | None = None
        self.scheduler: Scheduler | None = None
        self._reload_lock = threading.Lock()
        self._run_locks: dict[str, threading.Lock] = {}
        self._completed: set[str] = set()

    # --- building -------------------------------------------------------------------------

    def build(self, config: Config) -> Runtime:
        """Everything a config needs; raises ConfigError and leaves no half-built state behind."""
        database = Database(
            config.database_url(),
            pool_size=config.database.pool_size,
            connect_timeout=config.database.connect_timeout.total_seconds(),
            statement_timeout=config.database.statement_timeout.total_seconds(),
        )
        try:
            loaded = load_providers(config, self.candidates)
        except ConfigError:
            database.dispose()
            raise
        for failure in loaded.failures:
            log.error("provider %s skipped: %s", failure.name, failure.message)
            self.metrics.provider_load_failures.labels(failure.name).inc()
        monitor = DatabaseMonitor(database, self.metrics, self.clock, on_recovered=self._refresh_all)
        collector = Collector(
            database,
            self.store,
            self.metrics,
            settings_of(config),
            clock=self.clock,
            on_database_error=monitor.suspect,
            completed=self._completed,
        )
        return Runtime(config, database, loaded.providers, collector, monitor)

    def _runner(self, runtime: Runtime, provider: LoadedProvider) -> Callable[[], RunResult | None]:
        lock = self._run_locks.setdefault(provider.name, threading.Lock())

        def run() -> RunResult | None:
            # Also guards against overlap across a reload, when an old run may still be going.
            if not lock.acquire(blocking=False):
                log.warning("provider %s: previous run still going, this run is skipped", provider.name)
                return None
            try:
                return runtime.collector.run(provider)
            finally:
                lock.release()

        return run

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Build from the config and start scheduling; raises ConfigError on a bad config."""
        runtime = self.build(self.load_config())
        self._install(runtime, previous=None)
        self._mark_reload(True)

    def _install(self, runtime: Runtime, previous: Runtime | None) -> None:
        scheduler = Scheduler(runtime.config.collection.concurrency)
        for provider in runtime.providers:
            self.metrics.track(provider.name)
            scheduler.add_provider(provider.name, provider.interval, self._runner(runtime, provider))
        scheduler.add_monitor(runtime.monitor.tick)
        old_scheduler, self.scheduler, self.runtime = self.scheduler, scheduler, runtime
        if previous is not None:
            kept = {p.name for p in runtime.providers}
            for provider in previous.providers:
                if provider.name not in kept:
                    self.store.remove(provider.name)
                    self.metrics.forget(provider.name)
            if old_scheduler is not None:
                old_scheduler.shutdown(wait=False)
            previous.database.dispose()
        scheduler.start()

    def reload(self) -> bool:
        """Apply the config as it is now; on any error keep the running one and say why."""
        with self._reload_lock:
            previous = self.runtime
            try:
                runtime = self.build(self.load_config())
            except ConfigError as err:
                log.error("configuration reload failed, keeping the running configuration:\n%s", err)
                self._mark_reload(False)
                return False
            if previous is not None and previous.config.server != runtime.config.server:
                log.warning("server settings changed; listen address and metrics path apply after a restart")
            if previous is not None and previous.config.exposition != runtime.config.exposition:
                self.store.remove(INFO)
            self._install(runtime, previous)
            self._mark_reload(True)
            log.info("configuration reloaded: %d provider(s)", len(runtime.providers))
            return True

    def _mark_reload(self, ok: bool) -> None:
        self.metrics.reload_successful.set(1 if ok else 0)
        if ok:
            self.metrics.reload_success_time.set(self.clock.wall())

    def stop(self, wait: bool = False) -> None:
        """Stop scheduling and close database connections."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=wait)
        if self.runtime is not None:
            self.runtime.database.dispose()

    def _refresh_all(self) -> None:
        if self.scheduler is not None and self.runtime is not None:
            for provider in self.runtime.providers:
                self.scheduler.run_soon(provider.name)

    # --- serving --------------------------------------------------------------------------

    def ready(self) -> bool:
        """The database answers and every provider has finished at least one run."""
        runtime = self.runtime
        if runtime is None or runtime.monitor.up is not True:
            return False
        return all(p.name in runtime.collector.completed for p in runtime.providers)

    def scrape(self, *, openmetrics: bool, gzip: bool) -> Body:
        """Prepared bytes of every snapshot plus live self-metrics; never touches the database."""
        return assemble(self.store.view(), self.metrics.render(openmetrics), openmetrics=openmetrics, gzip=gzip)

    def collect_once(self) -> list[RunResult]:
        """Run every provider once, one after the other (the `collect` command)."""
        runtime = self.runtime or self.build(self.load_config())
        self.runtime = runtime
        runtime.monitor.check()
        results = []
        for provider in runtime.providers:
            self.metrics.track(provider.name)
            results.append(runtime.collector.run(provider))
        return results
