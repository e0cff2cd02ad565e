"""The provider contract: value records, the query context, the provider protocol and its optional extensions.

A provider is any object that satisfies `MetricsProviderProtocol`. Everything else here is
optional, and the exporter finds out once, when it loads a provider, which of it a provider
has (`exporter.adapter`); a run then makes one call for both scopes whatever the provider
implements. The optional extensions that remain public:

- speed: `BulkMetricsProvider.get_metrics_bulk` (both scopes in one call, so work both share,
  such as one scan of a table, is done once); or `BulkVendorMetricsProvider` and
  `BulkPlatformMetricsProvider`, one bulk call per scope. Without any of them the exporter calls
  `get_vendor_metrics` once per vendor and `get_platform_metrics` once per platform;
- `ConfigurableProvider`: settings from `providers.<name>.settings`, validated by the provider's model;
- `SchemaAwareProvider` and `KnownValuesProvider`: what the provider reads, for check-schema and the
  run-time schema check;
- `Dropped` records next to a vendor's or platform's values: data the provider left out, counted;
- a `metric_keys` attribute (a list of keys), listed by `commerce-exporter providers`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Column, Table
    from sqlalchemy.orm import Session

    from exporter.schema import KnownValues, SchemaTables

MetricNumber: TypeAlias = int | float | Decimal
"""A numeric metric value; money is a `Decimal` so it stays exact to the cent."""

MetricScalar: TypeAlias = MetricNumber | str | bool
"""Anything a provider may put in `MetricValue.value`; strings become `_info` series."""


class Scope(StrEnum):
    """Whether a value describes one vendor or one platform; part of every family name."""

    VENDOR = "vendor"
    PLATFORM = "platform"


@dataclass(slots=True)
class MetricValue:
    """One value computed by a provider for one vendor or one platform.

    How each field reaches the exposition (`exporter.naming` builds the names):

    - `key`: the `key` label, and the base of the family name (`orders.total` →
      `<namespace>_<scope>_orders`; a trailing `_total` is dropped, Prometheus keeps it for counters).
    - `value`: the sample. A number is a gauge sample; a string becomes an info series
      (`<family>_info{…,value="<text>"} 1`); None, NaN and ±Infinity are dropped and counted.
    - `category`: the `category` label (the provider's module code).
    - `unit`: the family name's suffix: a currency code as its lower-case code (`_eur`), `%` as
      `_ratio` with the value divided by 100, `items`/`count`/empty as nothing.
    - `description`: the family's HELP text (followed by how often the provider refreshes it).
    - `label`: a display name. Used as the HELP text only where `description` is None;
      otherwise not exported.
    - `period`: the `period` label, on values computed over the `MetricsContext` window (`"30d"`).
    - `labels`: extra (name, value) label pairs after the owner labels, e.g. `(("channel", "web"),)`;
      the names are valid label names other than those the exporter writes itself (`category`,
      `key`, `period`, `platform`, `vendor`, `value`), else the value is malformed. One owner may
      then have several values of one key, one per distinct label set. Declared SQL providers
      fill it from their label columns.
    - `icon`, `trend`, `trend_value`: not exported. They serve a platform's own dashboard
      (an icon name; a precomputed change against the previous period); Prometheus keeps the
      history itself, so a trend is a query (`delta(…[30d])`), not a series.
    """

    key: str
    value: MetricScalar | None
    label: str
    category: str
    icon: str | None = None
    description: str | None = None
    unit: str | None = None
    trend: str | None = None
    trend_value: float | None = None
    period: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


class DropReason(StrEnum):
    """Why a value was left out of the exposition; the `reason` of `commerce_exporter_values_dropped_total`.

    The first five concern what a provider returned; the others are rows of the platform's
    database that a value cannot use (docs/database.md, "Dirty rows").
    """

    INVALID = "invalid"
    NON_FINITE = "non_finite"
    DUPLICATE = "duplicate"
    NAME_COLLISION = "name_collision"
    NOT_ALLOWED = "not_allowed"
    MISSING_CODE = "missing_code"
    """The vendor's or platform's code is NULL, blank or not text: its values have no label."""
    DUPLICATE_CODE = "duplicate_code"
    """Another vendor (platform) has the same code; the one with the lowest id keeps it."""
    CURRENCY = "currency"
    """A revenue order whose currency is NULL, blank or not a three-letter code."""
    AMOUNT = "amount"
    """A revenue order whose total is NULL, NaN or infinite."""
    NEGATIVE_STOCK = "negative_stock"
    """An inventory row with a negative quantity or reservation, counted as 0."""
    UNKNOWN_VENDOR = "unknown_vendor"
    """A row of a declared SQL provider whose vendor_id is NULL or not a vendor of the directory."""
    NOT_NUMERIC = "not_numeric"
    """A value of a declared SQL provider that is NULL, not a number, NaN or infinite."""


DATA_REASONS = frozenset(
    {
        DropReason.MISSING_CODE,
        DropReason.DUPLICATE_CODE,
        DropReason.CURRENCY,
        DropReason.AMOUNT,
        DropReason.NEGATIVE_STOCK,
        DropReason.UNKNOWN_VENDOR,
        DropReason.NOT_NUMERIC,
    }
)
"""Reasons that point at rows of the platform's database rather than at a provider's output."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """What a provider left out of a value because of the data, for the exporter to count.

    A bulk method may put these next to the `MetricValue`s of a vendor or a platform:
    `count` database values of that owner were left out of `key` (for example three orders
    without a currency left out of `orders.total_revenue`). They are counted in
    `commerce_exporter_values_dropped_total{reason}` and never exported. The exporter accepts
    them in any list a provider returns, but `get_vendor_metrics` and `get_platform_metrics`
    promise `MetricValue`s to every caller, so the built-in providers return them from their
    bulk methods only.
    """

    key: str
    reason: DropReason
    count: int = 1


@dataclass(frozen=True, slots=True)
class VendorRange:
    """The vendor ids a shard exports: `lo ≤ vendor_id ≤ hi`, both ends inclusive, None for no bound.

    `collection.shard: i/n` gives every replica one contiguous range of vendor ids (see
    `exporter.directory.Shard`). A provider may restrict its vendor-scope statements to it
    (`WHERE vendor_id BETWEEN lo AND hi`, which an index on `vendor_id` serves), so a shard reads
    only its own vendors' rows; the exporter drops values of vendors outside it either way.
    Platform-scope values must not be restricted: they count every vendor (only shard 0 asks for them).
    """

    lo: int | None = None
    hi: int | None = None

    @property
    def bounded(self) -> bool:
        """Whether the range excludes any vendor id (False: every vendor, an unsharded run)."""
        return self.lo is not None or self.hi is not None

    def __contains__(self, vendor_id: object) -> bool:
        if not isinstance(vendor_id, int):
            return False
        return (self.lo is None or vendor_id >= self.lo) and (self.hi is None or vendor_id <= self.hi)


EVERY_VENDOR = VendorRange()
"""The range of an unsharded run."""


@dataclass(frozen=True, slots=True)
class MetricsContext:
    """The time window a provider computes windowed values over (naive UTC), and the shard's vendors.

    The exporter sets `date_to` to now and `date_from` to now − `period`, both ends inclusive.
    `include_trends` is always False: trends are not exported (see `MetricValue`).
    `vendor_range` is the shard's range of vendor ids (`EVERY_VENDOR` when unsharded): every
    vendor id a run asks for lies in it, so vendor-scope statements may read only rows inside it.
    """

    date_from: datetime | None = None
    date_to: datetime | None = None
    include_trends: bool = False
    period: str = "30d"
    vendor_range: VendorRange = EVERY_VENDOR


@runtime_checkable
class MetricsProviderProtocol(Protocol):
    """The protocol every provider implements: one vendor or one platform per call.

    A provider with none of the bulk extensions is called once per vendor and once per
    platform of a run; it works, but its cost grows with the number of vendors.
    """

    @property
    def metrics_category(self) -> str:
        """Category (and module code) of this provider's metrics, e.g. `orders`."""
        ...

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """Metrics of one vendor, independent of platform."""
        ...

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """Metrics aggregated over the vendors actively linked to one platform."""
        ...


@runtime_checkable
class BulkVendorMetricsProvider(Protocol):
    """Optional extension: every requested vendor in a constant number of grouped queries.

    Used when the provider has no `get_metrics_bulk`; without `get_platform_metrics_bulk` beside
    it, platforms are still asked one by one.
    """

    def get_vendor_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], context: MetricsContext
    ) -> Mapping[int, list[MetricValue]]:
        """Metrics per vendor id; vendors missing from the mapping export nothing."""
        ...


@runtime_checkable
class BulkPlatformMetricsProvider(Protocol):
    """Optional extension: every requested platform in a constant number of grouped queries (see above)."""

    def get_platform_metrics_bulk(
        self, db: Session, platform_ids: Collection[int], context: MetricsContext
    ) -> Mapping[int, list[MetricValue]]:
        """Metrics per platform id."""
        ...


@runtime_checkable
class BulkMetricsProvider(Protocol):
    """Optional extension: vendor and platform values of one run from one call; the preferred one.

    Used instead of every other method when present, so work both scopes share (one scan of a
    table, summed per vendor and per platform) is done once per run. It has the shape of the
    exporter's own internal call, which every other combination is adapted to.
    """

    def get_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[Mapping[int, list[MetricValue]], Mapping[int, list[MetricValue]]]:
        """(values per vendor id, values per platform id); either collection may be empty."""
        ...


@runtime_checkable
class ConfigurableProvider(Protocol):
    """Optional extension: a provider that takes validated settings from the config file.

    `settings_model` is a pydantic model class (unknown keys should be forbidden); the
    exporter validates `providers.<name>.settings` with it when it loads the provider and
    passes the instance to `configure` before the first run. A provider without it refuses
    any settings.
    """

    settings_model: Any

    def configure(self, settings: Any) -> None:
        """Apply validated settings."""
        ...


@runtime_checkable
class SchemaAwareProvider(Protocol):
    """Optional extension: what a provider reads, so the schema can be checked before it runs.

    Return the columns (or whole tables) of `tables` (`exporter.schema.tables(db)` of the run)
    that the provider's statements read. `commerce-exporter check-schema` reports each one, and
    a run whose columns are missing fails with reason `schema` without sending the provider's
    SQL. A provider without this method is reported as "not checked" and simply runs.
    """

    def schema_requirements(self, tables: SchemaTables) -> Iterable[Column[Any] | Table]:
        """Columns and tables the provider reads, from `tables`."""
        ...


@runtime_checkable
class KnownValuesProvider(Protocol):
    """Optional extension: columns whose values the provider interprets (statuses).

    `commerce-exporter check-schema` counts the values found outside `KnownValues.known` and
    prints what the provider does with each (`KnownValues.effect`).
    """

    def known_values(self, tables: SchemaTables) -> Iterable[KnownValues]:
        """One entry per interpreted column."""
        ...
