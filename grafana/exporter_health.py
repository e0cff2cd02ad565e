"""The exporter health dashboard: scrapes, providers, staleness, failures and the process."""

from __future__ import annotations

from grafana.builders import (
    OK_FAILED,
    RED_GREEN,
    UP_DOWN,
    Dashboard,
    Panel,
    Row,
    Variable,
    dashboard,
    dashboard_links,
    datasource_variable,
    query_variable,
    stat,
    state_timeline,
    target,
    targets,
    timeseries,
)

E = 'job=~"$job", instance=~"$instance"'
"""The selected exporters."""
EP = f'{E}, provider=~"$provider"'
"""The selected providers of the selected exporters."""


def build() -> Dashboard:
    variables: list[Variable] = [
        datasource_variable(),
        query_variable(
            "job",
            "Job",
            "label_values(commerce_exporter_build_info, job)",
            multi=True,
            description="Prometheus jobs that scrape a commerce-exporter.",
        ),
        query_variable(
            "instance", "Instance", 'label_values(commerce_exporter_build_info{job=~"$job"}, instance)', multi=True
        ),
        query_variable(
            "provider", "Provider", f"label_values(commerce_exporter_provider_up{{{E}}}, provider)", multi=True
        ),
    ]
    items: list[Panel | Row] = [
        Row("Exporter"),
        stat(
            "Scrape target",
            "Prometheus' `up`: 1 when the last scrape of the exporter succeeded.",
            "none",
            [target(f"up{{{E}}}", "{{instance}}")],
            w=4,
            mappings=UP_DOWN,
            thresholds=RED_GREEN,
        ),
        stat(
            "Database",
            "1 when the exporter's last database check succeeded.",
            "none",
            [target(f"commerce_exporter_database_up{{{E}}}", "{{instance}}")],
            w=4,
            mappings=UP_DOWN,
            thresholds=RED_GREEN,
        ),
        stat(
            "Last config load",
            "Whether the last configuration load or reload succeeded.",
            "none",
            [target(f"commerce_exporter_config_last_reload_successful{{{E}}}", "{{instance}}")],
            w=4,
            mappings=OK_FAILED,
            thresholds=RED_GREEN,
        ),
        stat(
            "Config age",
            "Time since the configuration was last loaded successfully.",
            "s",
            [target(f"time() - commerce_exporter_config_last_reload_success_timestamp_seconds{{{E}}}", "{{instance}}")],
            w=4,
        ),
        stat(
            "Uptime",
            "Time since the exporter process started.",
            "s",
            [target(f"time() - process_start_time_seconds{{{E}}}", "{{instance}}")],
            w=4,
        ),
        stat(
            "Version",
            "commerce_exporter_build_info.",
            "none",
            [target(f"commerce_exporter_build_info{{{E}}}", "{{version}}", instant=True)],
            w=4,
            text_mode="name",
        ),
        Row("Providers"),
        state_timeline(
            "Provider up",
            "1 when the provider's last run succeeded.",
            [target(f"commerce_exporter_provider_up{{{EP}}}", "{{provider}} {{instance}}")],
            UP_DOWN,
        ),
        timeseries(
            "Run duration",
            "Wall time of each provider's last run.",
            "s",
            [target(f"commerce_exporter_provider_duration_seconds{{{EP}}}", "{{provider}} {{instance}}")],
        ),
        timeseries(
            "Time since last success",
            "time() − last successful run (staleness). Alert CommerceExporterDataStale fires above 15 minutes; "
            "series stay exported until stale_after (3 × interval by default).",
            "s",
            [
                target(
                    f"(time() - commerce_exporter_provider_last_success_timestamp_seconds{{{EP}}})"
                    f" and commerce_exporter_provider_last_success_timestamp_seconds{{{EP}}} > 0",
                    "{{provider}} {{instance}}",
                )
            ],
            threshold=900,
        ),
        timeseries(
            "Runs per minute",
            "Provider runs started per minute.",
            "opm",
            [
                target(
                    f"sum by (instance, provider) (rate(commerce_exporter_provider_runs_total{{{EP}}}"
                    "[$__rate_interval])) * 60",
                    "{{provider}} {{instance}}",
                )
            ],
        ),
        timeseries(
            "Failures",
            "Failed runs per interval, by reason (error, timeout, invalid, schema).",
            "short",
            [
                target(
                    f"sum by (instance, provider, reason) "
                    f"(increase(commerce_exporter_provider_failures_total{{{EP}}}[$__rate_interval]))",
                    "{{provider}} {{reason}} {{instance}}",
                )
            ],
        ),
        timeseries(
            "Series per provider",
            "Series each provider exports now (0 once its data went stale).",
            "short",
            [target(f"commerce_exporter_provider_series{{{EP}}}", "{{provider}} {{instance}}")],
        ),
        timeseries(
            "Dropped values",
            "Provider values left out of the exposition per interval, by reason.",
            "short",
            [
                target(
                    f"sum by (instance, provider, reason) "
                    f"(increase(commerce_exporter_values_dropped_total{{{EP}}}[$__rate_interval]))",
                    "{{provider}} {{reason}} {{instance}}",
                )
            ],
        ),
        stat(
            "Providers that failed to load",
            "Providers that could not be imported, built or validated since the process started (0 when all "
            "loaded; the exporter log names the cause).",
            "short",
            [
                target(
                    f"sum by (instance) (commerce_exporter_provider_load_failures_total{{{E}}})"
                    f" or sum by (instance) (0 * commerce_exporter_build_info{{{E}}})",
                    "{{instance}}",
                )
            ],
            w=12,
            h=8,
            thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
        ),
        Row("Scrapes (Prometheus)"),
        timeseries(
            "Scrape duration",
            "How long Prometheus' scrapes of the exporter take (scrape_duration_seconds).",
            "s",
            [target(f"scrape_duration_seconds{{{E}}}", "{{instance}}")],
            w=8,
        ),
        timeseries(
            "Samples per scrape",
            "Samples in each scrape, before and after metric relabeling.",
            "short",
            targets(
                (f"scrape_samples_scraped{{{E}}}", "{{instance}} scraped"),
                (f"scrape_samples_post_metric_relabeling{{{E}}}", "{{instance}} kept"),
            ),
            w=8,
        ),
        timeseries(
            "New series per scrape",
            "Series that did not exist in the previous scrape (churn).",
            "short",
            [target(f"scrape_series_added{{{E}}}", "{{instance}}")],
            w=8,
        ),
        Row("Process"),
        timeseries(
            "Memory",
            "Resident and virtual memory of the exporter process.",
            "bytes",
            targets(
                (f"process_resident_memory_bytes{{{E}}}", "{{instance}} resident"),
                (f"process_virtual_memory_bytes{{{E}}}", "{{instance}} virtual"),
            ),
            w=8,
        ),
        timeseries(
            "CPU",
            "CPU time used per second (1 = one full core).",
            "percentunit",
            [target(f"rate(process_cpu_seconds_total{{{E}}}[$__rate_interval])", "{{instance}}")],
            w=8,
        ),
        timeseries(
            "Open file descriptors",
            "Open file descriptors (sockets, database connections) and the limit.",
            "short",
            targets(
                (f"process_open_fds{{{E}}}", "{{instance}} open"), (f"process_max_fds{{{E}}}", "{{instance}} limit")
            ),
            w=8,
        ),
    ]
    return dashboard(
        "commerce-exporter-health",
        "Commerce / Exporter health",
        "Is the exporter scraped, are its providers running and fresh, what does it cost.",
        variables,
        items,
        time_from="now-6h",
        links=dashboard_links(),
    )
