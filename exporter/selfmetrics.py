"""The exporter's own metrics (`commerce_exporter_*`), on a private registry rendered live per scrape."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, ProcessCollector
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter import __version__
from exporter.connections import CloseReason
from exporter.contracts import DropReason
from exporter.errors import FailureReason
from exporter.exposition import Format


class SelfMetrics:
    """Counters and gauges about collection, the database and config reloads."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        Info("commerce_exporter_build", "Version of the running exporter.", registry=r).info({"version": __version__})
        self.database_up = Gauge(
            "commerce_exporter_database_up", "1 when the last database check succeeded, else 0.", registry=r
        )
        self.provider_up = Gauge(
            "commerce_exporter_provider_up",
            "1 when the provider's last run succeeded, else 0.",
            ["provider"],
            registry=r,
        )
        self.provider_duration = Gauge(
            "commerce_exporter_provider_duration_seconds",
            "Wall time of the provider's last run.",
            ["provider"],
            registry=r,
        )
        self.provider_last_success = Gauge(
            "commerce_exporter_provider_last_success_timestamp_seconds",
            "Unix time the provider's last successful run finished (0 before the first one).",
            ["provider"],
            registry=r,
        )
        self.provider_runs = Counter(
            "commerce_exporter_provider_runs", "Provider runs started.", ["provider"], registry=r
        )
        self.provider_failures = Counter(
            "commerce_exporter_provider_failures",
            "Failed provider runs by reason (error, timeout, invalid, schema).",
            ["provider", "reason"],
            registry=r,
        )
        self.provider_series = Gauge(
            "commerce_exporter_provider_series",
            "Series the provider currently exports (0 once its data went stale).",
            ["provider"],
            registry=r,
        )
        self.values_dropped = Counter(
            "commerce_exporter_values_dropped",
            "Provider values left out of the exposition, by reason.",
            ["provider", "reason"],
            registry=r,
        )
        self.provider_load_failures = Counter(
            "commerce_exporter_provider_load_failures",
            "Providers that could not be imported, built or validated, and were skipped.",
            ["provider"],
            registry=r,
        )
        self.reload_successful = Gauge(
            "commerce_exporter_config_last_reload_successful",
            "1 when the last configuration load succeeded, else 0.",
            registry=r,
        )
        self.reload_success_time = Gauge(
            "commerce_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
            registry=r,
        )
        self.http_connections_closed = Counter(
            "commerce_exporter_http_connections_closed",
            "HTTP connections the exporter closed or refused, by reason (evicted, refused, slow_request, "
            "slow_response, malformed_request, tls_handshake, handler_error).",
            ["reason"],
            registry=r,
        )
        for reason in CloseReason:
            self.http_connections_closed.labels(reason.value)
        self.http_auth_throttled = Counter(
            "commerce_exporter_http_auth_throttled",
            "Requests answered 429 because their client address had too many basic-auth checks waiting.",
            registry=r,
        )
        if process:
            ProcessCollector(registry=r)

    def track(self, provider: str) -> None:
        """Create every child of `provider` so rates and alerts see zeros, not gaps (values kept on reload)."""
        self.provider_up.labels(provider)
        self.provider_duration.labels(provider)
        self.provider_last_success.labels(provider)
        self.provider_runs.labels(provider)
        self.provider_series.labels(provider)
        for reason in FailureReason:
            self.provider_failures.labels(provider, reason.value)
        for drop in DropReason:
            self.values_dropped.labels(provider, drop.value)

    def forget(self, provider: str) -> None:
        """Remove every child of a provider that is no longer configured."""
        for metric in (
            self.provider_up,
            self.provider_duration,
            self.provider_last_success,
            self.provider_runs,
            self.provider_series,
        ):
            _remove(metric, provider)
        for reason in FailureReason:
            _remove(self.provider_failures, provider, reason.value)
        for drop in DropReason:
            _remove(self.values_dropped, provider, drop.value)

    def render(self, fmt: Format) -> bytes:
        """Exposition of the self-metrics; OpenMetrics output ends with `# EOF`."""
        return generate_openmetrics(self.registry) if fmt is Format.OPENMETRICS else generate_text(self.registry)


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    # KeyError: the child was never created (the provider never ran); nothing to remove.
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
