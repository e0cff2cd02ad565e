"""Every provider behind one internal interface: what it can do is found once, when it is loaded.

A provider implements the required protocol and any of the optional extensions of
`exporter.contracts`. `adapt` looks at it once and returns an `AdaptedProvider`: one `compute`
call for both scopes, whatever methods sit behind it, and one answer for each optional
capability (settings, schema requirements, known values, keys). Nothing else in the exporter
asks a provider what it implements.

Which methods serve `compute`, chosen at load time:

- `get_metrics_bulk` when the provider has it (the built-in providers do): called as is;
- otherwise, per scope, the bulk method when present (`get_vendor_metrics_bulk`,
  `get_platform_metrics_bulk`), else one call per vendor (`get_vendor_metrics`) or per platform
  (`get_platform_metrics`). A scope with no ids is not asked at all.

`Dropped` records need no detection: they travel in the value lists, from whichever method
returned them, and rendering counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from pydantic import BaseModel, ValidationError

from exporter.config import describe_errors
from exporter.contracts import (
    BulkMetricsProvider,
    BulkPlatformMetricsProvider,
    BulkVendorMetricsProvider,
    ConfigurableProvider,
    Dropped,
    KnownValuesProvider,
    MetricsContext,
    MetricsProviderProtocol,
    SchemaAwareProvider,
)
from exporter.errors import ConfigError, ExporterError, ProviderLoadError

if TYPE_CHECKING:
    from sqlalchemy import Column, Table
    from sqlalchemy.orm import Session

    from exporter.schema import KnownValues, SchemaTables
    from exporter.schemacheck import Finding

OwnerValues: TypeAlias = dict[int, list[Any]]
"""What a provider returned per vendor (or platform) id: `MetricValue`s and `Dropped` records.

Items are not checked here: rendering counts anything else as an invalid value.
"""

Compute: TypeAlias = Callable[
    ["Session", Collection[int], Collection[int], MetricsContext], tuple[OwnerValues, OwnerValues]
]
"""The one internal call: (db, vendor ids, platform ids, context) → (values per vendor, per platform)."""

ScopeCall: TypeAlias = Callable[["Session", Collection[int], MetricsContext], OwnerValues]
"""Values of every id of one scope."""

_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class RunValues:
    """What one run computed: values per vendor and per platform, and rows that belong to no owner."""

    vendors: OwnerValues
    platforms: OwnerValues
    dropped: Sequence[Dropped] = ()
    """Counted once per run (e.g. rows of a declared query whose vendor is unknown)."""


Members: TypeAlias = Mapping[int, Sequence[int]]
"""Platform id → the vendor ids actively linked to it, for every active platform: the run's directory."""


@runtime_checkable
class RunAwareProvider(Protocol):
    """Internal: a provider that computes a run from the directory's members (the declared SQL providers).

    Its platform values are rolled up from its vendor values over each platform's active members, so it
    needs the members the run's directory read rather than asking the database for them again.
    """

    def compute_run(
        self,
        db: Session,
        vendor_ids: Collection[int],
        platform_ids: Collection[int],
        context: MetricsContext,
        members: Members | None,
    ) -> RunValues:
        """Values of the run; `members` None: the provider reads the active links itself."""
        ...


@runtime_checkable
class QueryCheckingProvider(Protocol):
    """Internal: a provider whose statement check-schema prepares against the database (declared SQL)."""

    def check_query(self, db: Session) -> list[Finding]:
        """Findings of preparing the provider's statement (no rows are read)."""
        ...


class MalformedOutput(ExporterError):
    """A provider returned something that is not the shape the protocol promises."""


def _as_list(result: Any) -> list[Any]:
    if type(result) is list:
        return result  # the common case, 10,000 times per run: no copy (values are only read)
    if isinstance(result, (list, tuple)):
        return list(result)
    raise MalformedOutput(f"expected a list of MetricValue, got {type(result).__name__}")


def _mapping(result: Any) -> OwnerValues:
    if not isinstance(result, Mapping):
        raise MalformedOutput(f"expected a mapping of id → list of MetricValue, got {type(result).__name__}")
    return {owner: _as_list(values) for owner, values in result.items()}


def _combined(method: Callable[..., Any]) -> Compute:
    def compute(
        db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[OwnerValues, OwnerValues]:
        result = method(db, vendor_ids, platform_ids, context)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise MalformedOutput(f"expected (vendor values, platform values), got {type(result).__name__}")
        return _mapping(result[0]), _mapping(result[1])

    return compute


def _bulk(method: Callable[..., Any]) -> ScopeCall:
    def call(db: Session, ids: Collection[int], context: MetricsContext) -> OwnerValues:
        return _mapping(method(db, ids, context))

    return call


def _one_by_one(method: Callable[..., Any]) -> ScopeCall:
    def call(db: Session, ids: Collection[int], context: MetricsContext) -> OwnerValues:
        return {owner: _as_list(method(db, owner, context)) for owner in ids}

    return call


def _per_scope(vendors: ScopeCall, platforms: ScopeCall) -> Compute:
    def compute(
        db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[OwnerValues, OwnerValues]:
        return (
            vendors(db, vendor_ids, context) if vendor_ids else {},
            platforms(db, platform_ids, context) if platform_ids else {},
        )

    return compute


class AdaptedProvider:
    """A loaded provider as the exporter uses it: one call for both scopes, and its optional capabilities."""

    __slots__ = ("_compute", "calls", "category", "impl")

    def __init__(self, impl: MetricsProviderProtocol, category: str, calls: str, compute: Compute) -> None:
        self.impl = impl
        """The object the factory returned."""
        self.category = category
        """Its `metrics_category`, checked to be a lower-case module code."""
        self.calls = calls
        """The provider's methods that serve `compute`, e.g. `get_metrics_bulk` (shown by `providers`)."""
        self._compute = compute

    def compute(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[OwnerValues, OwnerValues]:
        """Values of every vendor in `vendor_ids` and of every platform in `platform_ids`, for one run.

        Raises MalformedOutput when the provider's answer does not have the promised shape.
        """
        return self._compute(db, vendor_ids, platform_ids, context)

    def compute_run(
        self,
        db: Session,
        vendor_ids: Collection[int],
        platform_ids: Collection[int],
        context: MetricsContext,
        members: Members | None = None,
    ) -> RunValues:
        """`compute` for a run of the exporter: `members` maps every active platform to its active members.

        Only a declared SQL provider uses `members` (it rolls its platform values up from its vendor
        values); every other provider is asked through `compute`.
        """
        if isinstance(self.impl, RunAwareProvider):
            return self.impl.compute_run(db, vendor_ids, platform_ids, context, members)
        vendors, platforms = self.compute(db, vendor_ids, platform_ids, context)
        return RunValues(vendors, platforms)

    def check_query(self, db: Session) -> list[Finding] | None:
        """Findings of preparing a declared provider's statement; None for a provider without one."""
        if isinstance(self.impl, QueryCheckingProvider):
            return self.impl.check_query(db)
        return None

    @property
    def metric_keys(self) -> list[str]:
        """The keys the provider declares (`metric_keys`), or none."""
        keys = getattr(self.impl, "metric_keys", None)
        return [str(key) for key in keys] if isinstance(keys, (list, tuple)) else []

    def schema_requirements(self, tables: SchemaTables) -> Iterable[Column[Any] | Table] | None:
        """The columns and tables the provider reads; None when it does not say (it is then not checked)."""
        if not isinstance(self.impl, SchemaAwareProvider):
            return None
        return self.impl.schema_requirements(tables)

    def known_values(self, tables: SchemaTables) -> Iterable[KnownValues]:
        """The columns whose values the provider interprets; none when it does not say."""
        if not isinstance(self.impl, KnownValuesProvider):
            return ()
        return self.impl.known_values(tables)

    def configure(self, name: str, settings: Mapping[str, Any]) -> None:
        """Validate `providers.<name>.settings` with the provider's model and apply them.

        Raises ConfigError (with config paths) for invalid settings, and for any settings given to
        a provider that takes none.
        """
        impl = self.impl
        if isinstance(impl, ConfigurableProvider):
            model = impl.settings_model
            if isinstance(model, type) and issubclass(model, BaseModel):
                try:
                    validated = model.model_validate(settings)
                except ValidationError as err:
                    raise ConfigError(describe_errors(err, prefix=f"providers.{name}.settings")) from None
                impl.configure(validated)
                return
        if settings:
            raise ConfigError([(f"providers.{name}.settings", "this provider takes no settings")])


def adapt(name: str, impl: object) -> AdaptedProvider:
    """Check `impl` against the provider protocol and adapt it; ProviderLoadError says what is missing."""
    if not isinstance(impl, MetricsProviderProtocol):
        raise ProviderLoadError(
            name,
            "does not implement MetricsProviderProtocol "
            "(needs metrics_category, get_vendor_metrics and get_platform_metrics)",
        )
    category = impl.metrics_category
    if not isinstance(category, str) or not _CATEGORY.match(category):
        raise ProviderLoadError(name, f"metrics_category must be a lower-case module code, got {category!r}")
    if isinstance(impl, BulkMetricsProvider):
        return AdaptedProvider(impl, category, "get_metrics_bulk", _combined(impl.get_metrics_bulk))
    if isinstance(impl, BulkVendorMetricsProvider):
        vendors, vendor_call = _bulk(impl.get_vendor_metrics_bulk), "get_vendor_metrics_bulk"
    else:
        vendors, vendor_call = _one_by_one(impl.get_vendor_metrics), "get_vendor_metrics"
    if isinstance(impl, BulkPlatformMetricsProvider):
        platforms, platform_call = _bulk(impl.get_platform_metrics_bulk), "get_platform_metrics_bulk"
    else:
        platforms, platform_call = _one_by_one(impl.get_platform_metrics), "get_platform_metrics"
    return AdaptedProvider(impl, category, f"{vendor_call} + {platform_call}", _per_scope(vendors, platforms))
