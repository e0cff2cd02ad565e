"""The base of the built-in providers: catalog entries + grouped queries → both scopes, in bulk."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

from sqlalchemy import Column
from sqlalchemy.orm import Session

from exporter.contracts import MetricScalar, MetricsContext, MetricValue, Scope
from exporter.durations import parse_duration
from exporter.schema import SchemaTables, columns_of, tables
from providers._sql import Grouped, as_int

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Spec:
    """A catalog entry: how one key is labelled, described and measured."""

    label: str
    description: str
    icon: str | None = None
    unit: str | None = None
    windowed: bool = False


def money(cents: int) -> Decimal:
    """Integer cents as an exact decimal amount (never a float: no drift)."""
    return Decimal(cents).scaleb(-2)


def average_money(cents: int, count: int) -> Decimal:
    """Mean amount per item, rounded half-to-even to the cent."""
    return (Decimal(cents) / Decimal(count) / 100).quantize(CENT, rounding=ROUND_HALF_EVEN)


def default_context(now: datetime | None = None, period: str = "30d") -> MetricsContext:
    """The window the exporter would use: [now − period, now] in naive UTC."""
    end = now or datetime.now(UTC).replace(tzinfo=None)
    return MetricsContext(date_from=end - parse_duration(period), date_to=end, period=period)


GroupRows = Mapping[str, list[Any]]
"""Rows of every group for one owner (vendor or platform), by group name."""


def first(rows: GroupRows, group: str, column: str) -> int:
    """An aggregate of a group without extra keys: one row, or none when the owner has no rows."""
    found = rows[group]
    return as_int(getattr(found[0], column)) if found else 0


class GroupedProvider:
    """Implements the seed protocol and both bulk extensions from `groups()` and `values()`.

    A subclass declares its catalog (`CATALOG`), its grouped queries (`groups`) and how a
    vendor's or a platform's rows become values (`values`). Every run issues one statement
    per group and scope, however many vendors or platforms are asked for.
    """

    category: ClassVar[str]
    CATALOG: ClassVar[Mapping[str, Spec]]

    @property
    def metrics_category(self) -> str:
        """Category and module code, e.g. `orders`."""
        return self.category

    @property
    def metric_keys(self) -> list[str]:
        """Every key this provider can export (for `commerce-exporter providers`)."""
        return list(self.CATALOG)

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """The grouped queries over the run's tables `t`, by name."""
        raise NotImplementedError

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """The values of one vendor or one platform from its rows in each group."""
        raise NotImplementedError

    def metric(self, key: str, value: MetricScalar, context: MetricsContext, *, unit: str | None = None) -> MetricValue:
        """A `MetricValue` for `key`, labelled from the catalog."""
        spec = self.CATALOG[key]
        # Positional: this runs for every value of every vendor, and keyword binding costs more.
        # Order: key, value, label, category, icon, description, unit, trend, trend_value, period.
        return MetricValue(
            key,
            value,
            spec.label,
            self.category,
            spec.icon,
            spec.description,
            unit or spec.unit,
            None,
            None,
            context.period if spec.windowed else None,
        )

    def schema_requirements(self, t: SchemaTables) -> list[Column[Any]]:
        """Every column the provider's statements read, found by walking them (every scope and path)."""
        statements: list[Any] = []
        for group in self.groups(t, default_context()).values():
            statements += [group.statement(scope, [0], t) for scope in sorted(group.scopes)]
            if group.combinable:
                statements.append(group.both([0], [0], t))
        return columns_of(statements, t)

    def _by_owner(
        self,
        scope: Scope,
        fetched: Mapping[str, Mapping[int, list[Any]]],
        owners: Collection[int],
        context: MetricsContext,
    ) -> dict[int, list[MetricValue]]:
        return {
            owner: self.values(scope, {name: rows.get(owner, []) for name, rows in fetched.items()}, context)
            for owner in owners
        }

    def _bulk(
        self, db: Session, scope: Scope, owners: Collection[int], context: MetricsContext
    ) -> dict[int, list[MetricValue]]:
        groups = {name: group for name, group in self.groups(tables(db), context).items() if scope in group.scopes}
        fetched = {name: group.fetch(db, scope, owners) for name, group in groups.items()}
        return self._by_owner(scope, fetched, owners, context)

    def get_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[dict[int, list[MetricValue]], dict[int, list[MetricValue]]]:
        """Vendor and platform values of one run; additive groups scan their table once for both."""
        vendor_rows: dict[str, Mapping[int, list[Any]]] = {}
        platform_rows: dict[str, Mapping[int, list[Any]]] = {}
        for name, group in self.groups(tables(db), context).items():
            vendors = bool(vendor_ids) and Scope.VENDOR in group.scopes
            platforms = bool(platform_ids) and Scope.PLATFORM in group.scopes
            if vendors and platforms and group.combinable:
                vendor_rows[name], platform_rows[name] = group.fetch_both(db, vendor_ids, platform_ids)
                continue
            if vendors:
                vendor_rows[name] = group.fetch(db, Scope.VENDOR, vendor_ids)
            if platforms:
                platform_rows[name] = group.fetch(db, Scope.PLATFORM, platform_ids)
        return (
            self._by_owner(Scope.VENDOR, vendor_rows, vendor_ids, context),
            self._by_owner(Scope.PLATFORM, platform_rows, platform_ids, context),
        )

    def get_vendor_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], context: MetricsContext
    ) -> dict[int, list[MetricValue]]:
        """Values of every vendor in `vendor_ids`, one statement per vendor-scope group."""
        return self._bulk(db, Scope.VENDOR, vendor_ids, context)

    def get_platform_metrics_bulk(
        self, db: Session, platform_ids: Collection[int], context: MetricsContext
    ) -> dict[int, list[MetricValue]]:
        """Values of every platform in `platform_ids`, one statement per platform-scope group."""
        return self._bulk(db, Scope.PLATFORM, platform_ids, context)

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """Seed protocol: one vendor."""
        return self._bulk(db, Scope.VENDOR, [vendor_id], context or default_context())[vendor_id]

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """Seed protocol: one platform."""
        return self._bulk(db, Scope.PLATFORM, [platform_id], context or default_context())[platform_id]
