"""Provider discovery: entry points and config factories, loaded, configured and adapted to one interface."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import EntryPoint, entry_points
from types import EllipsisType
from typing import Any

from exporter.adapter import AdaptedProvider, adapt
from exporter.config import Config, SqlProviderConfig
from exporter.errors import ConfigError, ProviderLoadError
from exporter.sqlprovider import SqlProvider

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "commerce_exporter.providers"


@dataclass(frozen=True)
class Candidate:
    """A provider that can be loaded: its name, where it comes from, and its factory loader."""

    name: str
    origin: str
    load: Callable[[], Any]


@dataclass(frozen=True)
class LoadedProvider:
    """A provider ready to run, with its schedule and key allowlist."""

    name: str
    origin: str
    provider: AdaptedProvider
    interval: timedelta
    stale_after: timedelta
    keys: frozenset[str] | None
    module: str | EllipsisType | None = ...
    """The `platform_modules` code that switches it per platform: `...` for its name, None for none."""


@dataclass(frozen=True)
class LoadFailure:
    """A provider that was skipped, and why."""

    name: str
    origin: str
    message: str


def _import_factory(spec: str) -> Callable[[], Any]:
    module_name, _, attribute = spec.partition(":")

    def load() -> Any:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        return target

    return load


def _declared(name: str, spec: SqlProviderConfig) -> Callable[[], Any]:
    """The factory of a provider declared in the config (`providers.<name>.sql`)."""

    def load() -> Callable[[], Any]:
        return lambda: SqlProvider(name, spec)

    return load


def discover(points: Iterable[EntryPoint] | None = None) -> list[Candidate]:
    """Entry points of the `commerce_exporter.providers` group (loaded lazily, later)."""
    found = entry_points(group=ENTRY_POINT_GROUP) if points is None else points
    candidates = []
    for point in sorted(found, key=lambda p: p.name):
        dist = getattr(point, "dist", None)
        where = f" ({dist.name} {dist.version})" if dist is not None else ""
        candidates.append(Candidate(point.name, f"entry point {point.value}{where}", point.load))
    return candidates


def instantiate(candidate: Candidate) -> AdaptedProvider:
    """Import the factory, call it, and adapt the result (which must satisfy the provider protocol)."""
    try:
        factory = candidate.load()
    except Exception as err:  # an optional module may be broken in any way; it must not stop the rest
        raise ProviderLoadError(candidate.name, f"cannot import: {type(err).__name__}: {err}") from err
    if not callable(factory):
        raise ProviderLoadError(candidate.name, f"{candidate.origin} is not a zero-argument factory")
    try:
        provider = factory()
    except Exception as err:  # same: a failing factory skips this provider only
        raise ProviderLoadError(candidate.name, f"factory failed: {type(err).__name__}: {err}") from err
    return adapt(candidate.name, provider)


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading every provider for one config."""

    providers: list[LoadedProvider]
    failures: list[LoadFailure]


def load_providers(config: Config, candidates: Iterable[Candidate] | None = None) -> Loaded:
    """Every enabled provider: entry points plus `providers.<name>.factory` entries.

    Import or protocol failures are returned as `failures` (the caller logs and counts them);
    invalid settings are configuration errors and raise ConfigError.
    """
    pool = {c.name: c for c in (discover() if candidates is None else candidates)}
    modules: dict[str, str | None] = {}
    for name, entry in config.providers.items():
        if entry.sql is not None:
            pool[name] = Candidate(name, "config sql", _declared(name, entry.sql))
            modules[name] = entry.sql.module
        elif entry.factory:
            pool[name] = Candidate(name, f"config factory {entry.factory}", _import_factory(entry.factory))
    loaded: list[LoadedProvider] = []
    failures: list[LoadFailure] = []
    problems: list[tuple[str, str]] = []
    for name, candidate in sorted(pool.items()):
        entry = config.provider(name)
        if not entry.enabled:
            continue
        try:
            provider = instantiate(candidate)
        except ProviderLoadError as err:
            failures.append(LoadFailure(name, candidate.origin, str(err)))
            continue
        if provider.category != name and name not in modules:  # a declared provider's category is its own choice
            log.warning(
                "provider %s reports metrics_category %r; it is configured and labelled as %r",
                name,
                provider.category,
                name,
            )
        try:
            provider.configure(name, entry.settings)
        except ConfigError as err:
            problems += err.problems
            continue
        loaded.append(
            LoadedProvider(
                name=name,
                origin=candidate.origin,
                provider=provider,
                interval=config.interval(name),
                stale_after=config.stale_after(name),
                keys=frozenset(entry.keys) if entry.keys is not None else None,
                module=modules.get(name, ...),
            )
        )
    unknown = sorted(set(config.providers) - set(pool))
    problems += [(f"providers.{name}", f"no such provider (known: {', '.join(sorted(pool))})") for name in unknown]
    if problems:
        raise ConfigError(problems)
    return Loaded(loaded, failures)
