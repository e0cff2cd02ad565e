"""Marketplace: import jobs by state, success rate, import errors, staging products."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import exists, func

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import IMPORT_JOB_STATUSES, KnownValues, SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, first
from providers._sql import Grouped, as_int, total

COMPLETED = frozenset({"completed", "completed_with_errors"})
RUNNING = frozenset({"pending", "processing"})


class MarketplaceMetricsProvider(GroupedProvider):
    """The `marketplace` module's metrics."""

    category = "marketplace"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "marketplace.import_jobs": Spec("Import Jobs", "Marketplace import jobs, any status.", "cloud-download"),
        "marketplace.import_jobs_failed": Spec("Failed Imports", "Import jobs that failed.", "x-circle"),
        "marketplace.import_jobs_running": Spec("Running Imports", "Import jobs pending or processing.", "refresh"),
        "marketplace.import_success_rate": Spec(
            "Import Success Rate", "Completed jobs (with or without errors) among finished jobs.", "chart-pie", unit="%"
        ),
        "marketplace.import_errors": Spec("Import Errors", "Errors reported by import jobs.", "exclamation"),
        "marketplace.staging_products": Spec(
            "Staging Products", "Imported marketplace products not yet in the catalog.", "inbox"
        ),
    }

    def known_values(self, t: SchemaTables) -> list[KnownValues]:
        """What happens to a `marketplace_import_jobs.status` outside the catalog (reported by check-schema)."""

        def effect(status: str | None) -> str:
            return (
                "counted in marketplace.import_jobs only (its error_count still adds to marketplace.import_errors): "
                "not failed, not running, not finished for the success rate"
            )

        return [KnownValues(t.marketplace_import_jobs.c.status, frozenset(IMPORT_JOB_STATUSES), effect)]

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """Jobs by status with error sums; unreferenced marketplace products."""
        jobs, staged, products = t.marketplace_import_jobs, t.marketplace_products, t.products
        referenced = exists().where(products.c.marketplace_product_id == staged.c.id)
        return {
            "jobs": Grouped(
                source=jobs,
                vendor_id=jobs.c.vendor_id,
                by=(jobs.c.status,),
                columns={"n": func.count(), "errors": total(jobs.c.error_count)},
            ),
            "staging": Grouped(
                source=staged, vendor_id=staged.c.vendor_id, where=(~referenced,), columns={"n": func.count()}
            ),
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """Job counts by state, success rate when a job finished, errors, staging products."""
        by_status: dict[str, int] = defaultdict(int)
        errors = 0
        for row in rows["jobs"]:
            by_status[row.status] += as_int(row.n)
            errors += as_int(row.errors)
        completed = sum(by_status[s] for s in COMPLETED)
        failed = by_status["failed"]
        values = [
            self.metric("marketplace.import_jobs", sum(by_status.values()), context),
            self.metric("marketplace.import_jobs_failed", failed, context),
            self.metric("marketplace.import_jobs_running", sum(by_status[s] for s in RUNNING), context),
            self.metric("marketplace.import_errors", errors, context),
            self.metric("marketplace.staging_products", first(rows, "staging", "n"), context),
        ]
        if completed + failed:
            values.append(
                self.metric("marketplace.import_success_rate", 100 * completed / (completed + failed), context)
            )
        return values
