"""Grouped-query building blocks shared by every built-in provider (portable SQL only)."""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Row, Select, Subquery, and_, case, func, select
from sqlalchemy.orm import Session

from exporter.contracts import Scope
from providers.schema import VendorPlatform

IN_LIST_LIMIT = 1000
"""Above this many vendors a grouped query scans every vendor and the rest are dropped in Python.

One scan grouped by vendor costs the same as a scan restricted by a huge `IN (...)` list,
and it keeps the statement (and its plan) identical however many vendors there are.
"""

Rows = Sequence[Row[Any]]
"""The rows of one grouped query that belong to one vendor or one platform."""


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Number of rows matching `condition`; `FILTER (WHERE …)` is not portable to MariaDB."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def total(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """SUM that is 0, not NULL, over no rows."""
    return func.coalesce(func.sum(column), 0)


def active_links() -> Subquery:
    """(vendor_id, platform_id) of every active vendor↔platform link: the A(P) sets."""
    vp = VendorPlatform.__table__
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
    """

    source: FromClause
    vendor_id: ColumnElement[Any]
    columns: Mapping[str, ColumnElement[Any]]
    where: Sequence[ColumnElement[bool]] = ()
    by: Sequence[ColumnElement[Any]] = ()
    scopes: frozenset[Scope] = frozenset(Scope)
    platform_override: Callable[[Collection[int]], Select[Any]] | None = field(default=None)

    def _aggregates(self) -> list[ColumnElement[Any]]:
        return [*self.by, *(column.label(name) for name, column in self.columns.items())]

    def statement(self, scope: Scope, owners: Collection[int]) -> Select[Any]:
        """The query for one scope; `owners` are vendor ids or platform ids."""
        if scope is Scope.VENDOR:
            return self._per_vendor(owners)
        if self.platform_override is not None:
            return self.platform_override(owners)
        return self._per_platform(owners)

    def _per_vendor(self, vendor_ids: Collection[int]) -> Select[Any]:
        """`SELECT vendor_id AS owner, by…, aggregates… GROUP BY vendor_id, by…`."""
        statement = (
            select(self.vendor_id.label("owner"), *self._aggregates())
            .select_from(self.source)
            .where(*self.where)
            .group_by(self.vendor_id, *self.by)
        )
        if len(vendor_ids) <= IN_LIST_LIMIT:
            statement = statement.where(self.vendor_id.in_(sorted(vendor_ids)))
        return statement

    def _per_platform(self, platform_ids: Collection[int]) -> Select[Any]:
        """The same aggregates over A(P), `GROUP BY platform_id`."""
        links = active_links()
        return (
            select(links.c.platform_id.label("owner"), *self._aggregates())
            .select_from(self.source.join(links, links.c.vendor_id == self.vendor_id))
            .where(*self.where, links.c.platform_id.in_(sorted(platform_ids)))
            .group_by(links.c.platform_id, *self.by)
        )

    def fetch(self, db: Session, scope: Scope, owners: Collection[int]) -> dict[int, list[Any]]:
        """Run the query for one scope; rows keyed by owner id, owners outside `owners` dropped."""
        statement = self.statement(scope, owners)
        wanted = owners if isinstance(owners, (set, frozenset, dict)) else set(owners)
        grouped: dict[int, list[Any]] = defaultdict(list)
        result = db.execute(statement)
        for row in map(_record(tuple(result.keys()))._make, result):
            if row.owner in wanted:
                grouped[row.owner].append(row)
        return grouped


@lru_cache(maxsize=256)
def _record(columns: tuple[str, ...]) -> Any:
    """A named tuple per column list: attribute access is ~10× cheaper than on SQLAlchemy's Row,
    and providers read each of hundreds of thousands of aggregate rows several times per run."""
    return namedtuple("GroupedRow", columns)


def as_int(value: Any) -> int:
    """Aggregate results arrive as int, Decimal (PostgreSQL/MariaDB SUM) or None."""
    return 0 if value is None else int(value)
