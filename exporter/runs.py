"""One provider run: directory → vendor and platform values → rendered snapshot, failures isolated."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from exporter.adapter import MalformedOutput
from exporter.clock import Clock, utc_naive
from exporter.contracts import DATA_REASONS, Dropped, DropReason, MetricsContext
from exporter.db import Database
from exporter.directory import Directory, Plan, PlatformRule, Shard, load_directory, plan_all, plan_run
from exporter.discovery import LoadedProvider
from exporter.durations import format_duration, parse_duration
from exporter.errors import DatabaseError, FailureReason
from exporter.exposition import Prepared, prepare
from exporter.families import FamilyBuilder, Rendered, info_families
from exporter.schemacheck import SchemaGuard, SchemaMissing
from exporter.selfmetrics import SelfMetrics
from exporter.store import INFO, SnapshotStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionSettings:
    """What every provider run shares: names, window, shard, enablement rules."""

    namespace: str = "commerce"
    vendor_series: bool = True
    period: str = "30d"
    shard: Shard = field(default_factory=Shard)
    rules: Mapping[str, PlatformRule] = field(default_factory=dict)


@dataclass(frozen=True)
class Computed:
    """Raw values of one run, before rendering."""

    directory: Directory
    plan: Plan
    vendor_values: Mapping[int, list[Any]]
    platform_values: Mapping[int, list[Any]]
    dropped: Sequence[Dropped] = ()
    """Rows the provider left out that belong to no exported owner (counted once per run)."""


@dataclass(frozen=True)
class RunResult:
    """How one provider run ended."""

    provider: str
    ok: bool
    duration: float
    series: int = 0
    reason: FailureReason | None = None
    error: str | None = None
    dropped: Mapping[DropReason, int] = field(default_factory=dict)


class _GcPause:
    """Keeps CPython's cyclic garbage collector off while provider runs are in progress.

    A run at 10,000 vendors creates ~10^5 objects (values, rows) that all live until it ends;
    they push the collector into repeated full collections that walk the whole heap, a large
    share of the exporter's CPU per collection cycle (measured: see docs/architecture.md, Figures
    behind choices in the code). Nothing a run creates needs the cycle collector (reference
    counting frees it), so collection waits until no run is in progress. The collector is
    process-wide, hence one pause for the process, with a counter because runs overlap; runs
    that overlap for a long time still get a full collection now and then, so cyclic garbage
    stays bounded.
    """

    MAX_PAUSE = 30.0
    """Seconds of continuous pause after which a run's end still collects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._resume = False
        self._since = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                self._resume = gc.isenabled()  # an embedding application may have turned it off itself
                self._since = time.monotonic()
                gc.disable()
            self._active += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                if self._resume:
                    gc.enable()
            elif time.monotonic() - self._since > self.MAX_PAUSE:
                gc.collect()
                self._since = time.monotonic()


_GC_PAUSE = _GcPause()


class ProviderRunner:
    """Runs providers against the database and publishes their rendered snapshots."""

    def __init__(
        self,
        database: Database,
        store: SnapshotStore,
        metrics: SelfMetrics,
        settings: CollectionSettings,
        *,
        clock: Clock,
        on_database_error: Callable[[], None] | None = None,
        completed: set[str] | None = None,
    ) -> None:
        self.database = database
        self.store = store
        self.metrics = metrics
        self.settings = settings
        self.clock = clock
        self.on_database_error = on_database_error
        self.completed: set[str] = set() if completed is None else completed
        """Providers that finished at least one run (shared across reloads by the caller)."""
        self._info_directory: Directory | None = None
        self._directory: Directory | None = None
        """The last directory read; its unchanged vendor records are reused by the next read."""
        self._directory_lock = threading.Lock()
        self._directory_read_at = 0.0
        self._directory_merchants = True
        self._directory_users: set[str] = set()
        """Providers that ran with `_directory`: each of them reads a new one on its next run."""
        self._info: Prepared | None = None
        self.schema_guard = SchemaGuard(database.schema, clock.monotonic)
        """Checks each provider's tables and columns before its run (cached reflection)."""
        self._data_drops: dict[str, frozenset[DropReason]] = {}
        """Per provider, the dirty-row reasons of its last run: logged when they appear, not on every run."""

    def context(self) -> MetricsContext:
        """[now − period, now] in naive UTC."""
        now = utc_naive(self.clock)
        return MetricsContext(
            date_from=now - parse_duration(self.settings.period), date_to=now, period=self.settings.period
        )

    def compute(self, provider: LoadedProvider, db: Session) -> Computed:
        """Directory, plan and values of one run (no rendering, no publishing).

        Every provider is asked the same way, through its adapter: one call for the run's
        vendors and platforms (`exporter.adapter` turns it into whatever the provider implements).
        """
        directory = self.directory(provider, db)
        plan = plan_run(
            provider.name,
            directory,
            self.settings.rules,
            self.settings.shard,
            vendor_series=self.settings.vendor_series,
            module=provider.module,
        )
        platform_ids = [p.id for p in plan.platforms] if self.settings.shard.exports_platforms else []
        context = self.context()
        if plan.vendor_range.bounded:
            context = replace(context, vendor_range=plan.vendor_range)
        found = provider.provider.compute_run(db, plan.vendor_ids, platform_ids, context, directory.members)
        return Computed(directory, plan, found.vendors, found.platforms, found.dropped)

    def directory(self, provider: LoadedProvider, db: Session) -> Directory:
        """The directory for one run of `provider`: read once per round of provider runs, not once per run.

        A run reuses the last directory read when `provider` has not run with it yet and it is younger
        than half the provider's interval; otherwise it reads a new one (which every other provider
        then reuses once). So when the providers run at the same interval, the platforms, vendors and
        links are read once per interval instead of once per provider (seven times), and no run sees
        a directory older than its provider's previous run. Reading it is a large part of what a
        shard's run costs the database: every shard needs every vendor id to compute its range.
        """
        merchant_join = self.schema_guard.merchant_join(db)  # False: no companies table, every merchant label is ""
        now = self.clock.monotonic()
        with self._directory_lock:
            cached = self._directory
            if (
                cached is not None
                and provider.name not in self._directory_users
                and merchant_join == self._directory_merchants
                and now - self._directory_read_at < provider.interval.total_seconds() / 2
            ):
                self._directory_users.add(provider.name)
                return cached
        directory = load_directory(db, cached, merchant_join=merchant_join)
        with self._directory_lock:
            self._directory, self._directory_read_at, self._directory_merchants = directory, now, merchant_join
            self._directory_users = {provider.name}
        return directory

    def run(self, provider: LoadedProvider) -> RunResult:
        """Compute, render and publish one provider; a failure keeps its last good snapshot."""
        with _GC_PAUSE:
            return self._run(provider)

    def _run(self, provider: LoadedProvider) -> RunResult:
        name = provider.name
        started = self.clock.monotonic()
        self.metrics.provider_runs.labels(name).inc()
        try:
            with self.database.session() as db:
                problems = self.schema_guard.problems(name, provider.provider, db)
                if problems:
                    raise SchemaMissing(problems)  # before any of the provider's statements
                computed = self.compute(provider, db)
        except SchemaMissing as err:
            return self._failed(provider, started, FailureReason.SCHEMA, str(err))
        except DatabaseError as err:
            self.schema_guard.invalidate()  # a table or column may have gone: look again next run
            if self.on_database_error is not None:
                self.on_database_error()
            return self._failed(provider, started, err.reason, str(err))
        except MalformedOutput as err:
            return self._failed(provider, started, FailureReason.INVALID, str(err))
        except Exception as err:  # a provider may raise anything; it must not stop the others
            log.debug("provider %s raised", name, exc_info=True)
            return self._failed(provider, started, FailureReason.ERROR, f"{type(err).__name__}: {err}")
        try:
            with self.store.publishing:
                rendered, prepared = self.render(provider, computed, self.store.names_taken(by_other_than=name))
                self.store.publish(name, prepared, provider.stale_after.total_seconds())
                self._publish_info(computed.directory, provider.stale_after.total_seconds())
        except Exception as err:  # a bug here must fail this run, not the process or the other providers
            log.error("provider %s: rendering failed", name, exc_info=True)
            return self._failed(provider, started, FailureReason.ERROR, f"rendering: {type(err).__name__}: {err}")
        del computed  # the values are rendered; do not hold them while the metrics are updated
        self._data_drops[name] = frozenset(reason for reason in rendered.dropped if reason in DATA_REASONS)
        for reason, count in rendered.dropped.items():
            self.metrics.values_dropped.labels(name, reason.value).inc(count)
        duration = self.clock.monotonic() - started
        self.completed.add(name)
        self.metrics.provider_duration.labels(name).set(duration)
        self.metrics.provider_series.labels(name).set(prepared.series)
        if rendered.invalid:
            message = f"{rendered.invalid} malformed value(s) dropped"
            self._count_failure(provider, FailureReason.INVALID, message)
            return RunResult(name, False, duration, prepared.series, FailureReason.INVALID, message, rendered.dropped)
        self.metrics.provider_up.labels(name).set(1)
        self.metrics.provider_last_success.labels(name).set(self.clock.wall())
        log.debug("provider %s: %d series in %.3fs", name, prepared.series, duration)
        return RunResult(name, True, duration, prepared.series, dropped=rendered.dropped)

    def render(
        self, provider: LoadedProvider, computed: Computed, taken: Collection[str] = ()
    ) -> tuple[Rendered, Prepared]:
        """Values of one run → families → prepared bytes; `taken` are names other providers export."""
        builder = FamilyBuilder(
            self.settings.namespace,
            provider.name,
            format_duration(provider.interval),
            allowed_keys=provider.keys,
            taken=taken,
            quiet=self._data_drops.get(provider.name, frozenset()),
        )
        builder.add_vendors(computed.directory, computed.plan, computed.vendor_values)
        builder.add_platforms(computed.plan, computed.platform_values)
        for dropped in computed.dropped:
            builder.drops.by_data(dropped)
        rendered = builder.build()
        return rendered, prepare(rendered.families)

    def render_info(self, directory: Directory) -> Prepared:
        """`<ns>_platform_info` (shard 0 only) and `<ns>_vendor_info` (unless vendor series are off)."""
        plan = plan_all(directory, self.settings.shard, vendor_series=self.settings.vendor_series)
        families = info_families(
            self.settings.namespace,
            directory,
            plan,
            platforms=self.settings.shard.exports_platforms,
            vendors=self.settings.vendor_series,
        )
        return prepare(families)

    def _publish_info(self, directory: Directory, stale_after: float) -> None:
        """Info metrics follow the newest directory; re-rendered only when it changed."""
        if self._info is None or directory != self._info_directory:
            self._info, self._info_directory = self.render_info(directory), directory
        self.store.publish(INFO, self._info, stale_after)

    def _count_failure(self, provider: LoadedProvider, reason: FailureReason, message: str) -> None:
        self.metrics.provider_up.labels(provider.name).set(0)
        self.metrics.provider_failures.labels(provider.name, reason.value).inc()
        log.warning("provider %s failed (%s): %s", provider.name, reason.value, message)

    def _failed(self, provider: LoadedProvider, started: float, reason: FailureReason, message: str) -> RunResult:
        duration = self.clock.monotonic() - started
        self.completed.add(provider.name)
        self.metrics.provider_duration.labels(provider.name).set(duration)
        self.metrics.provider_series.labels(provider.name).set(self.store.series(provider.name))
        self._count_failure(provider, reason, message)
        return RunResult(provider.name, False, duration, self.store.series(provider.name), reason, message)
