"""The running exporter: builds components from a config, schedules them, reloads atomically."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from exporter.clock import Clock, SystemClock
from exporter.config import Config
from exporter.db import Database
from exporter.discovery import Candidate, LoadedProvider, LoadFailure, load_providers
from exporter.errors import ConfigError
from exporter.exposition import Body, Format, assemble
from exporter.health import DatabaseMonitor
from exporter.runs import CollectionSettings, ProviderRunner, RunResult
from exporter.scheduler import Scheduler
from exporter.selfmetrics import SelfMetrics
from exporter.store import INFO, SnapshotStore
from exporter.webconfig import WebSettings, load_web_config

log = logging.getLogger(__name__)

ConfigLoader = Callable[[], Config]
"""Reads the configuration afresh (at start and on every reload)."""


@dataclass
class Runtime:
    """Everything built from one config; replaced as a whole on reload."""

    config: Config
    database: Database
    providers: list[LoadedProvider]
    runner: ProviderRunner
    monitor: DatabaseMonitor
    web: WebSettings
    failures: list[LoadFailure] = field(default_factory=list)
    """Providers that could not be loaded and are skipped."""
    scheduler: Scheduler | None = None
    """The jobs of this config, planned but not started (started when the runtime is installed)."""

    def drain_seconds(self) -> float:
        """How long a run in progress may still take: one statement, bounded client-side, plus slack."""
        return self.database.call_limit + 1.0


class ReloadResult(NamedTuple):
    """How a reload ended; `reason` is the error shown to whoever asked for it (empty on success)."""

    ok: bool
    reason: str


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
    """Config → database, providers, runner, monitor, scheduler; `scrape()` serves the store."""

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
        """Everything a config needs, its schedule included, without connecting or starting anything.

        Raises ConfigError and leaves no half-built state behind. `check-config` calls this too,
        so it refuses exactly what `serve` would refuse.
        """
        web = self._reuse_verdicts(load_web_config(config.server.web_config_file))
        database = Database(
            config.database_url(),
            pool_size=config.database.pool_size,
            connect_timeout=config.database.connect_timeout.total_seconds(),
            statement_timeout=config.database.statement_timeout.total_seconds(),
            schema=config.schema_.mapped_tables,
        )
        try:
            loaded = load_providers(config, self.candidates)
            monitor = DatabaseMonitor(database, self.metrics, self.clock, on_recovered=self._refresh_all)
            runner = ProviderRunner(
                database,
                self.store,
                self.metrics,
                settings_of(config),
                clock=self.clock,
                on_database_error=monitor.suspect,
                completed=self._completed,
            )
            runtime = Runtime(config, database, loaded.providers, runner, monitor, web, loaded.failures)
            runtime.scheduler = self._plan(runtime)
        except BaseException:
            database.dispose()
            raise
        return runtime

    def _plan(self, runtime: Runtime) -> Scheduler:
        """The scheduler with every job of `runtime`, not started; ConfigError if a job cannot be planned."""
        scheduler = Scheduler(runtime.config.collection.concurrency)
        for provider in runtime.providers:
            try:
                scheduler.add_provider(provider.name, provider.interval, self._job(runtime, provider))
            except (OverflowError, ValueError) as err:
                raise ConfigError(
                    [(f"providers.{provider.name}", f"cannot schedule a run every {provider.interval}: {err}")]
                ) from err
        scheduler.add_monitor(runtime.monitor.tick)
        return scheduler

    def _reuse_verdicts(self, web: WebSettings) -> WebSettings:
        """Keep the running basic-auth verdict cache when the users and hashes did not change."""
        running = self.runtime.web.auth if self.runtime is not None else None
        if running is not None and web.auth is not None and running.same_users(web.auth):
            return replace(web, auth=running)
        return web

    def _report_failures(self, runtime: Runtime) -> None:
        for failure in runtime.failures:
            log.error("provider %s skipped: %s", failure.name, failure.message)
            self.metrics.provider_load_failures.labels(failure.name).inc()

    def _job(self, runtime: Runtime, provider: LoadedProvider) -> Callable[[], RunResult | None]:
        lock = self._run_locks.setdefault(provider.name, threading.Lock())

        def run() -> RunResult | None:
            # Also guards against overlap across a reload, when an old run may still be going.
            if not lock.acquire(blocking=False):
                log.warning("provider %s: previous run still going, this run is skipped", provider.name)
                return None
            try:
                if self.runtime is not runtime:
                    return None  # queued before a reload replaced this config: its results would be wrong
                result = runtime.runner.run(provider)
                if result.ok:
                    runtime.monitor.confirm()  # the database answered: /-/ready need not wait for the backoff
                return result
            finally:
                lock.release()

        return run

    def _quiesce(self, names: Iterable[str], timeout: float) -> tuple[list[threading.Lock], list[str]]:
        """Take the run locks of `names`, waiting up to `timeout` in all; (locks held, names still running)."""
        deadline = time.monotonic() + timeout
        held: list[threading.Lock] = []
        busy: list[str] = []
        for name in names:
            lock = self._run_locks.setdefault(name, threading.Lock())
            if lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                held.append(lock)
            else:
                busy.append(name)
        return held, busy

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Build from the config and start scheduling; raises ConfigError on a bad config."""
        runtime = self.build(self.load_config())
        self._report_failures(runtime)
        self._install(runtime, previous=None)
        self._mark_reload(True)
        log.info("web: %s", runtime.web.describe())

    def _install(self, runtime: Runtime, previous: Runtime | None) -> None:
        """Swap in `runtime` as one step: no run of the old config publishes after this returns."""
        scheduler = runtime.scheduler
        assert scheduler is not None, "built by build()"
        for provider in runtime.providers:
            self.metrics.track(provider.name)
        held: list[threading.Lock] = []
        if previous is not None and self.scheduler is not None:
            # Known before the swap, so database_up and /-/ready do not blink on a reload.
            runtime.monitor.check(notify=False)
            self.scheduler.shutdown(wait=False)
            held, busy = self._quiesce([p.name for p in previous.providers], previous.drain_seconds())
            if busy:
                log.warning("provider run(s) of the previous configuration still going: %s", ", ".join(busy))
        try:
            self.scheduler, self.runtime = scheduler, runtime
            if previous is not None:
                self._forget_stale(previous, runtime)
        finally:
            for lock in held:
                lock.release()
        if previous is not None:
            previous.database.dispose()
        scheduler.start()

    def _forget_stale(self, previous: Runtime, runtime: Runtime) -> None:
        """Drop snapshots the new config would render differently (or not at all)."""
        kept = {p.name for p in runtime.providers}
        everything = (
            settings_of(previous.config) != settings_of(runtime.config)
            or previous.config.database != runtime.config.database
            or previous.config.schema_ != runtime.config.schema_
        )
        if everything:
            self.store.remove(INFO)
        for provider in previous.providers:
            name = provider.name
            if name not in kept:
                self.store.remove(name)
                self.metrics.forget(name)
                self._completed.discard(name)
            elif everything or previous.config.provider(name) != runtime.config.provider(name):
                self.store.remove(name)

    def reload(self) -> ReloadResult:
        """Apply the config as it is now; on any error keep the running one and say why."""
        with self._reload_lock:
            previous = self.runtime
            try:
                runtime = self.build(self.load_config())
            except ConfigError as err:
                log.error("configuration reload failed, keeping the running configuration:\n%s", err)
                self._mark_reload(False)
                return ReloadResult(False, str(err))
            except Exception as err:  # whatever broke, the running configuration must stay
                log.exception("configuration reload failed, keeping the running configuration")
                self._mark_reload(False)
                return ReloadResult(False, f"{type(err).__name__}: {err}")
            self._report_failures(runtime)
            if previous is not None:
                changed = {
                    key
                    for key in ("listen", "metrics_path", "max_connections")
                    if getattr(previous.config.server, key) != getattr(runtime.config.server, key)
                }
                if changed:
                    log.warning("server.%s changed; this applies after a restart", ", server.".join(sorted(changed)))
            try:
                self._install(runtime, previous)
            except Exception as err:  # built fine but could not be switched to: say so, as for a bad file
                log.exception("configuration reload failed while being applied")
                runtime.database.dispose()
                self._mark_reload(False)
                return ReloadResult(False, f"applying the configuration failed: {type(err).__name__}: {err}")
            self._mark_reload(True)
            log.info("configuration reloaded: %d provider(s); web: %s", len(runtime.providers), runtime.web.describe())
            return ReloadResult(True, "")

    def _mark_reload(self, ok: bool) -> None:
        self.metrics.reload_successful.set(1 if ok else 0)
        if ok:
            self.metrics.reload_success_time.set(self.clock.wall())

    def stop(self, wait: bool = False, timeout: float = 5.0) -> bool:
        """Stop scheduling, break off database calls in progress, close connections.

        With `wait`, waits up to `timeout` seconds for provider runs to end; returns False when
        one is still going (the caller may exit anyway: no run holds anything worth waiting for).
        """
        idle = True
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        runtime = self.runtime
        if runtime is not None:
            runtime.database.interrupt()
            if wait:
                held, busy = self._quiesce([p.name for p in runtime.providers], timeout)
                for lock in held:
                    lock.release()
                if busy:
                    log.warning("provider run(s) still going after %.0fs: %s", timeout, ", ".join(busy))
                idle = not busy
            runtime.database.dispose()
        return idle

    def _refresh_all(self) -> None:
        if self.scheduler is not None and self.runtime is not None:
            for provider in self.runtime.providers:
                self.scheduler.run_soon(provider.name)

    # --- serving --------------------------------------------------------------------------

    @property
    def web(self) -> WebSettings:
        """TLS, basic auth and headers of the running configuration."""
        runtime = self.runtime
        return runtime.web if runtime is not None else WebSettings()

    def ready(self) -> bool:
        """The database answers and every provider has finished at least one run."""
        runtime = self.runtime
        if runtime is None or runtime.monitor.up is not True:
            return False
        return all(p.name in runtime.runner.completed for p in runtime.providers)

    def scrape(self, *, openmetrics: bool, gzip: bool) -> Body:
        """Prepared bytes of every snapshot plus live self-metrics; never touches the database."""
        fmt = Format.OPENMETRICS if openmetrics else Format.TEXT
        prepared = self.store.view(fmt)
        runtime = self.runtime
        if runtime is not None:
            # Snapshots expire between runs; the series gauge says so at once, not at the next run.
            for provider in runtime.providers:
                self.metrics.provider_series.labels(provider.name).set(self.store.series(provider.name))
        return assemble(prepared, self.metrics.render(fmt), fmt, gzip=gzip)

    def collect_once(self) -> list[RunResult]:
        """Run every provider once, one after the other (the `collect` command)."""
        runtime = self.runtime
        if runtime is None:
            runtime = self.runtime = self.build(self.load_config())
            self._report_failures(runtime)
        runtime.monitor.check()
        results = []
        for provider in runtime.providers:
            self.metrics.track(provider.name)
            results.append(runtime.runner.run(provider))
        return results
