"""Who is exported: active platforms, their vendor sets A(P), module enablement and shards."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from exporter.schema import by_key, tables

CORE_MODULES = frozenset({"tenancy", "customers", "cms"})
"""Modules a `platform_modules` row cannot disable (the config still can)."""


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """An active platform."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class VendorInfo:
    """A vendor with at least one active link to an active platform."""

    id: int
    code: str
    name: str
    bucket: int = 0
    """CRC-32 of the vendor code: the stable hash shards split on (same on every host)."""


@dataclass(frozen=True)
class Directory:
    """The platform/vendor structure read at the start of every provider run.

    `members[p]` is A(P) for every active platform, ordered by vendor code so the
    exposition is stable from run to run.
    """

    platforms: Mapping[int, PlatformInfo]
    vendors: Mapping[int, VendorInfo]
    members: Mapping[int, Sequence[int]]
    modules: Mapping[int, Mapping[str, bool]] = field(default_factory=dict)


def load_directory(db: Session, previous: Directory | None = None) -> Directory:
    """Three statements, whatever the number of vendors.

    Runs before every provider run, so at 10,000 vendors it is kept lean: rows come as plain
    tuples, and the `VendorInfo` records of `previous` are reused when a vendor did not change
    (which also makes comparing two directories cheap: equal records are the same objects).
    """
    t = tables(db)
    platforms_t, links_t, vendors_t, modules_t = t.platforms, t.vendor_platforms, t.vendors, t.platform_modules
    platforms = {
        row.id: PlatformInfo(row.id, row.code, row.name)
        for row in db.execute(
            select(*by_key(platforms_t.c.id, platforms_t.c.code, platforms_t.c.name)).where(
                platforms_t.c.is_active.is_(True)
            )
        )
    }
    known = previous.vendors if previous is not None else {}
    vendors: dict[int, VendorInfo] = {}
    members: dict[int, list[int]] = defaultdict(list)
    links = (
        select(links_t.c.platform_id, vendors_t.c.id, vendors_t.c.vendor_code, vendors_t.c.name)
        .join(vendors_t, vendors_t.c.id == links_t.c.vendor_id)
        .where(links_t.c.is_active.is_(True))
    )
    # `.all()` fetches in one driver call; iterating the Result would call fetchone() per row.
    for platform_id, vendor_id, code, name in db.execute(links).all():
        if platform_id not in platforms:
            continue
        if vendor_id not in vendors:
            vendor = known.get(vendor_id)
            if vendor is None or vendor.code != code or vendor.name != name:
                vendor = VendorInfo(vendor_id, code, name, zlib.crc32(code.encode()))
            vendors[vendor_id] = vendor
        members[platform_id].append(vendor_id)
    modules: dict[int, dict[str, bool]] = defaultdict(dict)
    for module in db.execute(select(*by_key(modules_t.c.platform_id, modules_t.c.module_code, modules_t.c.is_enabled))):
        modules[module.platform_id][module.module_code] = bool(module.is_enabled)
    codes = {vendor_id: vendor.code for vendor_id, vendor in vendors.items()}
    ordered = {platform_id: tuple(sorted(ids, key=codes.__getitem__)) for platform_id, ids in members.items()}
    return Directory(platforms=platforms, vendors=vendors, members=ordered, modules=dict(modules))


@dataclass(frozen=True, slots=True)
class PlatformRule:
    """Config overrides for one platform (by code): providers forced on or off."""

    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()


def is_enabled(provider: str, platform: PlatformInfo, directory: Directory, rules: Mapping[str, PlatformRule]) -> bool:
    """Config `enable`/`disable` wins; else a `platform_modules` row (not for core modules); else on."""
    rule = rules.get(platform.code)
    if rule is not None:
        if provider in rule.disable:
            return False
        if provider in rule.enable:
            return True
    row = directory.modules.get(platform.id, {}).get(provider)
    if row is not None and provider not in CORE_MODULES:
        return row
    return True


@dataclass(frozen=True, slots=True)
class Shard:
    """`collection.shard: i/n`: this replica exports the vendors whose code hashes to `i`."""

    index: int = 0
    count: int = 1

    def owns(self, vendor: VendorInfo) -> bool:
        """Whether this replica exports `vendor`."""
        return self.count == 1 or vendor.bucket % self.count == self.index

    @property
    def exports_platforms(self) -> bool:
        """Platform-scope values and platform info come from shard 0 only."""
        return self.index == 0


@dataclass(frozen=True)
class Plan:
    """What one provider run computes: enabled platforms and the vendors exported under each."""

    platforms: Sequence[PlatformInfo]
    vendors_by_platform: Mapping[int, Sequence[int]]
    vendor_ids: frozenset[int]


def plan_run(
    provider: str,
    directory: Directory,
    rules: Mapping[str, PlatformRule],
    shard: Shard,
    *,
    vendor_series: bool = True,
) -> Plan:
    """Enabled platforms (by code) and, per platform, the vendors of A(P) this shard owns."""
    platforms = sorted(
        (p for p in directory.platforms.values() if is_enabled(provider, p, directory, rules)),
        key=lambda p: p.code,
    )
    by_platform: dict[int, Sequence[int]] = {}
    if vendor_series:
        for platform in platforms:
            members = directory.members.get(platform.id, ())
            by_platform[platform.id] = (
                members if shard.count == 1 else [v for v in members if shard.owns(directory.vendors[v])]
            )
    vendor_ids = frozenset(v for ids in by_platform.values() for v in ids)
    return Plan(platforms=platforms, vendors_by_platform=by_platform, vendor_ids=vendor_ids)


def plan_all(directory: Directory, shard: Shard, *, vendor_series: bool = True) -> Plan:
    """Every active platform and the vendors of A(P) this shard owns: the info metrics' scope."""
    return plan_run("", directory, {}, shard, vendor_series=vendor_series)
