"""commerce-exporter: Prometheus/OpenMetrics metrics of multi-tenant commerce platforms."""

__version__ = "0.1.0"
