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
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, ValidationError

from exporter.config import describe_errors
from exporter.contracts import (
    BulkMetricsProvider,
    BulkPlatformMetricsProvider,
    BulkVendorMetricsProvider,
    ConfigurableProvider,
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
