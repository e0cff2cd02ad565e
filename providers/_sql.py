"""Grouped-query building blocks shared by every built-in provider (portable SQL only)."""

from __future__ import annotations

import math
from collections import defaultdict, namedtuple
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    Row,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from exporter.contracts import EVERY_VENDOR, Scope, VendorRange
from exporter.schema import SchemaTables, tables

IN_LIST_LIMIT = 1000
"""Above this many vendors a grouped query is not restricted by an `IN (...)` list of them.

One scan grouped by vendor costs the same as a scan restricted by a huge `IN (...)` list,
and it keeps the statement (and its plan) identical however many vendors there are. A shard's
run restricts it by its range of vendor ids instead (`within`), which an index on the vendor
column serves; vendors inside the range that the run does not export are dropped in Python.
"""


def within(column: ColumnElement[Any], vendor_range: VendorRange) -> list[ColumnElement[bool]]:
    """`column BETWEEN lo AND hi` (or one side of it) for a shard's range; nothing for every vendor.

    The hook for any provider's own SQL: the run's `MetricsContext.vendor_range`, applied to the
    column holding the vendor id, before grouping, so the database reads only the shard's rows.
    """
    lo, hi = vendor_range.lo, vendor_range.hi
    if lo is not None and hi is not None:
        return [column.between(lo, hi)]
    if lo is not None:
        return [column >= lo]
    if hi is not None:
        return [column <= hi]
    return []


Rows = Sequence[Row[Any]]
"""The rows of one grouped query that belong to one vendor or one platform."""


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Number of rows matching `condition`; `FILTER (WHERE …)` is not portable to MariaDB."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def total(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """SUM that is 0, not NULL, over no rows."""
    return func.coalesce(func.sum(column), 0)


def finite(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where `column` holds a number: not NULL, NaN or ±Infinity, on every backend.

    `x - x = 0` is NULL for NULL and false for NaN and ±Infinity (their difference is NaN).
    `x = x` would not do: PostgreSQL sorts NaN as equal to itself, and only PostgreSQL can
    store NaN at all (SQLite stores NULL for it, MariaDB/MySQL refuse it).
    """
    return (column - column) == 0


def positive_part(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`max(column, 0)` per row (GREATEST is not portable to SQLite); NULL stays NULL."""
    return case((column < 0, 0), else_=column)


def active_links(t: SchemaTables) -> Subquery:
    """(vendor_id, platform_id) of every active vendor↔platform link: the vendors of each platform."""
    vp = t.vendor_platforms
    return select(vp.c.vendor_id, vp.c.platform_id).where(vp.c.is_active.is_(True)).subquery("links")


def in_window(column: ColumnElement[Any], date_from: Any, date_to: Any) -> ColumnElement[bool]:
    """The metrics window; both ends are inclusive."""
    return and_(column >= date_from, column <= date_to)


@dataclass(frozen=True)
class Grouped:
    """One grouped query over rows that each belong to one vendor.

    The same aggregates run per vendor (`GROUP BY vendor_id`) and per platform (joined to
    the active links, `GROUP BY platform_id`), so both scopes read like one catalog entry.
    `by` adds group keys (status, currency); `platform_override` replaces the platform
    query where the catalog defines the platform value differently (CMS pages).

    When both scopes are wanted and every aggregate is a count or a sum (`additive`), one
    statement serves both (`both`): the per-vendor aggregates are computed once and summed per
    platform over the active links, so the source table is scanned once, not twice.
    """

    source: FromClause
    vendor_id: ColumnElement[Any]
    columns: Mapping[str, ColumnElement[Any]]
    where: Sequence[ColumnElement[bool]] = ()
    by: Sequence[ColumnElement[Any]] = ()
    scopes: frozenset[Scope] = frozenset(Scope)
    platform_override: Callable[[Collection[int]], Select[Any]] | None = field(default=None)
    additive: bool = True
    """Every aggregate is a count or a sum: platform values are sums of vendor values."""

    @property
    def combinable(self) -> bool:
        """Whether `both` can serve the vendor and the platform scope in one statement."""
        return self.additive and self.platform_override is None and Scope.VENDOR in self.scopes

    def _aggregates(self) -> list[ColumnElement[Any]]:
        # Group keys are labelled with their reference name (`status`), whatever the column is
        # called in the database, so rows read the same under every schema mapping.
        by = [column.label(str(column.key)) for column in self.by]
        return [*by, *(column.label(name) for name, column in self.columns.items())]

    def statement(
        self, scope: Scope, owners: Collection[int], t: SchemaTables, vendor_range: VendorRange = EVERY_VENDOR
    ) -> Select[Any]:
        """The query for one scope; `owners` are vendor ids (all inside `vendor_range`) or platform ids."""
        if scope is Scope.VENDOR:
            return self._per_vendor(owners, vendor_range)
        if self.platform_override is not None:
            return self.platform_override(owners)
        return self._per_platform(owners, t)

    def _per_vendor(self, vendor_ids: Collection[int], vendor_range: VendorRange = EVERY_VENDOR) -> Select[Any]:
        """`SELECT vendor_id AS owner, by…, aggregates… WHERE vendor_id BETWEEN lo AND hi GROUP BY vendor_id, by…`."""
        statement = (
            select(self.vendor_id.label("owner"), *self._aggregates())
            .select_from(self.source)
            .where(*self.where, *within(self.vendor_id, vendor_range))
            .group_by(self.vendor_id, *self.by)
        )
        if len(vendor_ids) <= IN_LIST_LIMIT:
            statement = statement.where(self.vendor_id.in_(sorted(vendor_ids)))
        return statement

    def _per_platform(self, platform_ids: Collection[int], t: SchemaTables) -> Select[Any]:
        """The same aggregates over the vendors actively linked to each platform, `GROUP BY platform_id`."""
        links = active_links(t)
        return (
            select(links.c.platform_id.label("owner"), *self._aggregates())
            .select_from(self.source.join(links, links.c.vendor_id == self.vendor_id))
            .where(*self.where, links.c.platform_id.in_(sorted(platform_ids)))
            .group_by(links.c.platform_id, *self.by)
        )

    def both(
        self,
        vendor_ids: Collection[int],
        platform_ids: Collection[int],
        t: SchemaTables,
        vendor_range: VendorRange = EVERY_VENDOR,
    ) -> CompoundSelect[Any]:
        """Vendor rows (`is_platform` 0) and platform rows (1) from one scan of the source.

        `WITH per_vendor AS (<vendor aggregates of every vendor>) SELECT 0, … FROM per_vendor
        UNION ALL SELECT 1, platform_id, SUM(…) FROM per_vendor JOIN links … GROUP BY platform_id, by…`

        The platform sums need every vendor, so the scan is not restricted to `vendor_range` (shard 0
        of several: only the vendor rows it returns are); see docs/scaling.md for what that costs.
        """
        per_vendor = (
            select(self.vendor_id.label("owner"), *self._aggregates())
            .select_from(self.source)
            .where(*self.where)
            .group_by(self.vendor_id, *self.by)
            .cte("per_vendor")
        )
        by = [per_vendor.c[str(column.key)] for column in self.by]
        aggregates = [per_vendor.c[name] for name in self.columns]
        vendors = select(literal_column("0").label("is_platform"), per_vendor.c.owner, *by, *aggregates)
        vendors = vendors.where(*within(per_vendor.c.owner, vendor_range))
        if len(vendor_ids) <= IN_LIST_LIMIT:
            vendors = vendors.where(per_vendor.c.owner.in_(sorted(vendor_ids)))
        links = active_links(t)
        platforms = (
            select(
                literal_column("1"),
                links.c.platform_id,
                *by,
                *(func.sum(column).label(column.name) for column in aggregates),
            )
            .select_from(per_vendor.join(links, links.c.vendor_id == per_vendor.c.owner))
            .where(links.c.platform_id.in_(sorted(platform_ids)))
            .group_by(links.c.platform_id, *by)
        )
        return union_all(vendors, platforms)

    def fetch_both(
        self,
        db: Session,
        vendor_ids: Collection[int],
        platform_ids: Collection[int],
        vendor_range: VendorRange = EVERY_VENDOR,
    ) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
        """Run `both`; (rows by vendor id, rows by platform id)."""
        wanted = vendor_ids if isinstance(vendor_ids, (set, frozenset, dict)) else set(vendor_ids)
        vendors: dict[int, list[Any]] = defaultdict(list)
        platforms: dict[int, list[Any]] = defaultdict(list)
        result = db.execute(self.both(vendor_ids, platform_ids, tables(db), vendor_range))
        # `.all()` fetches in one driver call; iterating the Result would call fetchone() per row.
        for row in map(_record(tuple(result.keys()))._make, result.all()):
            if row.is_platform:
                platforms[row.owner].append(row)
            elif row.owner in wanted:
                vendors[row.owner].append(row)
        return vendors, platforms

    def fetch(
        self, db: Session, scope: Scope, owners: Collection[int], vendor_range: VendorRange = EVERY_VENDOR
    ) -> dict[int, list[Any]]:
        """Run the query for one scope; rows keyed by owner id, owners outside `owners` dropped."""
        statement = self.statement(scope, owners, tables(db), vendor_range)
        wanted = owners if isinstance(owners, (set, frozenset, dict)) else set(owners)
        grouped: dict[int, list[Any]] = defaultdict(list)
        result = db.execute(statement)
        for row in map(_record(tuple(result.keys()))._make, result.all()):
            if row.owner in wanted:
                grouped[row.owner].append(row)
        return grouped


@lru_cache(maxsize=256)
def _record(columns: tuple[str, ...]) -> Any:
    """A named tuple per column list: attribute access is much cheaper than on SQLAlchemy's Row,
    and providers read each of hundreds of thousands of aggregate rows several times per run
    (measured: see docs/architecture.md, Figures behind choices in the code)."""
    return namedtuple("GroupedRow", columns)


def as_int(value: Any) -> int:
    """Aggregate results arrive as int, Decimal (PostgreSQL/MariaDB SUM) or None."""
    return 0 if value is None else int(value)


def is_finite(value: Any) -> bool:
    """An aggregate that is a number: not NaN or ±Infinity (NULL counts as 0, so as finite)."""
    if type(value) is int or value is None:
        return True
    if isinstance(value, Decimal):
        return value.is_finite()
    return math.isfinite(value)


def as_exact(value: Any) -> int | Decimal:
    """A SUM of amounts, exactly: int for whole numbers, else Decimal; None is 0.

    BIGINT sums come as int (SQLite) or integral Decimal (PostgreSQL, MariaDB) and stay
    integers; NUMERIC sums with fractions stay Decimal; a float sum (a float money column)
    becomes the shortest decimal that reads back as that float, which is the amount the
    database would print, not the binary expansion of it.
    """
    if value is None:
        return 0
    if type(value) is int:
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        exact = Decimal(repr(value))
    else:
        exact = value if isinstance(value, Decimal) else Decimal(value)
    if exact.is_finite() and exact == exact.to_integral_value():
        return int(exact)
    return exact
