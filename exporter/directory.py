"""Who is exported: active platforms, their active members, module enablement and shards.

A platform's active members are the vendors with an active `vendor_platforms` link to it; platform
values are computed over them and vendor values are exported under each of them. Shards split the
vendors into contiguous vendor-id ranges (`Shard`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from types import EllipsisType
from typing import Any

from sqlalchemy import null, select
from sqlalchemy.orm import Session

from exporter.contracts import EVERY_VENDOR, DropReason, VendorRange
from exporter.schema import by_key, tables

log = logging.getLogger(__name__)

CORE_MODULES = frozenset({"tenancy", "customers", "cms"})
"""Modules a `platform_modules` row cannot disable (the config still can)."""


def label_text(value: Any) -> str | None:
    """A code or name read from the database as label text, or None when it cannot be one.

    Text is trimmed (CHAR columns come back space-padded from PostgreSQL, and a code is an
    identifier, not layout); integers (a numeric code column) are written in decimal; bytes
    (a binary column) count when they are UTF-8. NULL, blank text, text that is not valid
    Unicode (SQLite may hold invalid UTF-8), floats and anything else are not labels.
    """
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        try:
            text = bytes(value).decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    else:
        return None
    if not text or not (text.isascii() or _is_unicode(text)):
        return None
    return text


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from undecodable bytes
        return False
    return True


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """An active platform."""

    id: int
    code: str | None
    """The `platform` label; None when the row's code cannot be one (`problem` says why)."""
    name: str
    """The display name; the code when the row's name is NULL, blank or not text."""
    problem: DropReason | None = None


@dataclass(frozen=True, slots=True)
class VendorInfo:
    """A vendor with at least one active link to an active platform."""

    id: int
    code: str | None
    """The `vendor` label; None when the row's code cannot be one (`problem` says why)."""
    name: str
    """The display name; the code when the row's name is NULL, blank or not text."""
    problem: DropReason | None = None
    merchant: str = ""
    """The owning company (`vendors.company_id`): its code when the schema maps `companies.code`, else its
    name, else its id; empty when the vendor has no company."""
    active: bool = False
    """`vendors.is_active` (NULL is false)."""
    verified: bool = False
    """`vendors.is_verified` (NULL is false)."""


@dataclass(frozen=True)
class Directory:
    """The platform/vendor structure read at the start of every provider run.

    `members[p]` holds the active members of every active platform (the vendors with an active
    `vendor_platforms` link to it), ordered by vendor code so the exposition is stable from run to run.
    """

    platforms: Mapping[int, PlatformInfo]
    vendors: Mapping[int, VendorInfo]
    members: Mapping[int, Sequence[int]]
    modules: Mapping[int, Mapping[str, bool]] = field(default_factory=dict)


def load_directory(db: Session, previous: Directory | None = None, *, merchant_join: bool = True) -> Directory:
    """Three statements, whatever the number of vendors.

    Runs before every provider run, so at 10,000 vendors it is kept lean: rows come as plain
    tuples, and the `VendorInfo` records of `previous` are reused when a vendor did not change
    (which also makes comparing two directories cheap: equal records are the same objects).

    Codes and names go through `label_text`. A vendor or platform whose code is unusable, or
    the same as the code of one with a lower id, stays in the directory (platform values still
    count it) with `code` None; the renderer leaves its series out and counts them.

    The links statement also reads each vendor's flags and owning company (an outer join, so a
    vendor without one is still listed), so a vendor that changes merchant moves at the next run.
    The merchant is optional data: with `merchant_join` False (the database has no usable companies
    table, see `SchemaGuard.merchant_join`) the same statement reads no company and every merchant is "".
    """
    t = tables(db)
    platforms_t, links_t, vendors_t, modules_t = t.platforms, t.vendor_platforms, t.vendors, t.platform_modules
    companies_t = t.companies
    platform_raw = {
        row.id: (row.code, row.name)
        for row in db.execute(
            select(*by_key(platforms_t.c.id, platforms_t.c.code, platforms_t.c.name)).where(
                platforms_t.c.is_active.is_(True)
            )
        )
    }
    known_platforms = previous.platforms if previous is not None else {}
    platforms: dict[int, PlatformInfo] = {}
    for platform_id, (label, name, problem) in _labels(platform_raw).items():
        platform = PlatformInfo(platform_id, label, name, problem)
        kept = known_platforms.get(platform_id)
        if kept is None or kept != platform:
            _report("platform", platform_id, platform_raw[platform_id], problem, label)
            kept = platform
        platforms[platform_id] = kept
    raw: dict[int, tuple[Any, Any]] = {}
    details: dict[int, tuple[str, bool, bool]] = {}
    companies: dict[int, tuple[Any, Any, Any]] = {}
    merchants: dict[Any, str] = {}
    members: dict[int, list[int]] = defaultdict(list)
    # `companies.code` is optional: a column of the table only when the `schema:` section maps it.
    merchant_code = companies_t.c.get("code")
    merchant_columns = [companies_t.c.id, companies_t.c.name, merchant_code if merchant_code is not None else null()]
    links = (
        select(
            links_t.c.platform_id,
            vendors_t.c.id,
            vendors_t.c.vendor_code,
            vendors_t.c.name,
            vendors_t.c.is_active,
            vendors_t.c.is_verified,
            *(merchant_columns if merchant_join else (null(), null(), null())),
        )
        .join(vendors_t, vendors_t.c.id == links_t.c.vendor_id)
        .where(links_t.c.is_active.is_(True))
    )
    if merchant_join:
        links = links.outerjoin(companies_t, companies_t.c.id == vendors_t.c.company_id)
    # `.all()` fetches in one driver call; iterating the Result would call fetchone() per row.
    for platform_id, vendor_id, code, name, active, verified, company_id, company_name, company_code in db.execute(
        links
    ).all():
        if platform_id not in platforms:
            continue
        if vendor_id not in raw:
            raw[vendor_id] = (code, name)
            company = (company_id, company_name, company_code)
            merchant = merchants.get(company_id)
            if merchant is None:  # a company owns several vendors: its label is worked out once per run
                merchant = merchants[company_id] = merchant_label(*company)
            details[vendor_id] = (merchant, _flag(active), _flag(verified))
            companies[vendor_id] = company
        members[platform_id].append(vendor_id)
    known = previous.vendors if previous is not None else {}
    vendors: dict[int, VendorInfo] = {}
    for vendor_id, (label, name, problem) in _labels(raw).items():
        vendor = known.get(vendor_id)
        if (
            vendor is None
            or vendor.code != label
            or vendor.name != name
            or vendor.problem is not problem
            or (vendor.merchant, vendor.active, vendor.verified) != details[vendor_id]
        ):
            vendor = VendorInfo(vendor_id, label, name, problem, *details[vendor_id])
            _report("vendor", vendor_id, raw[vendor_id], problem, label)
            _report_merchant(vendor_id, *companies[vendor_id])
        vendors[vendor_id] = vendor
    modules: dict[int, dict[str, bool]] = defaultdict(dict)
    for module in db.execute(select(*by_key(modules_t.c.platform_id, modules_t.c.module_code, modules_t.c.is_enabled))):
        modules[module.platform_id][module.module_code] = bool(module.is_enabled)
    order = {vendor_id: ordering(vendor.code, vendor_id) for vendor_id, vendor in vendors.items()}
    ordered = {platform_id: tuple(sorted(ids, key=order.__getitem__)) for platform_id, ids in members.items()}
    return Directory(platforms=platforms, vendors=vendors, members=ordered, modules=dict(modules))


def merchant_label(company_id: Any, name: Any, code: Any) -> str:
    """The `merchant` label of a vendor: the company's code, else its name, else its id; "" without a company.

    Code and name follow the label rules of `label_text` (trimmed; NULL, blank or not text is
    unusable). A vendor whose `company_id` is NULL or names no company row has no merchant.
    """
    if company_id is None:
        return ""
    return label_text(code) or label_text(name) or str(company_id)


def _flag(value: Any) -> bool:
    """A boolean column as the providers' `IS TRUE` reads it: NULL is false."""
    return value is not None and bool(value)


Labels = dict[int, tuple[str | None, str, DropReason | None]]
"""Owner id → (label or None, display name, why there is no label)."""


def _labels(rows: Mapping[int, tuple[Any, Any]]) -> Labels:
    """Labels and names of owners from their raw (code, name); a code already taken by a lower id is a duplicate."""
    labels: Labels = {}
    taken: set[str] = set()
    for owner_id in sorted(rows):
        code, name = rows[owner_id]
        label = label_text(code)
        problem = None
        if label is None:
            problem = DropReason.MISSING_CODE
        elif label in taken:
            problem = DropReason.DUPLICATE_CODE
        else:
            taken.add(label)
        display = label_text(name) or label or ""
        labels[owner_id] = (label if problem is None else None, display, problem)
    return labels


def _report(kind: str, owner_id: int, raw: tuple[Any, Any], problem: DropReason | None, label: str | None) -> None:
    """One log line when a record with a dirty code or name is (re)built, not on every run."""
    code, name = raw
    if problem is not None:
        why = "is NULL, blank or not text"
        if problem is DropReason.DUPLICATE_CODE:
            why = f"is taken by a {kind} with a lower id"
        log.warning(
            "%s id %d: code %r %s; its series are left out and counted in "
            'commerce_exporter_values_dropped_total{reason="%s"}',
            kind,
            owner_id,
            code,
            why,
            problem.value,
        )
    elif label_text(name) is None:
        log.info("%s id %d: name %r is NULL, blank or not text; its info series shows the code", kind, owner_id, name)


def _report_merchant(vendor_id: int, company_id: Any, name: Any, code: Any) -> None:
    """One log line when a vendor's company has neither a usable code nor name (its id stands in)."""
    if company_id is not None and label_text(code) is None and label_text(name) is None:
        log.info(
            "vendor id %d: its company id %s has a NULL, blank or non-text name; its merchant label shows the id",
            vendor_id,
            company_id,
        )


def ordering(code: str | None, owner_id: int) -> tuple[bool, str, int]:
    """Sort key of vendors and platforms: by code; unlabelled ones (never exported) last, by id."""
    return (code is None, code or "", owner_id)


@dataclass(frozen=True, slots=True)
class PlatformRule:
    """Config overrides for one platform (by code): providers forced on or off."""

    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()


def is_enabled(
    provider: str,
    platform: PlatformInfo,
    directory: Directory,
    rules: Mapping[str, PlatformRule],
    module: str | EllipsisType | None = ...,
) -> bool:
    """Config `enable`/`disable` wins; else a `platform_modules` row (not for core modules); else on.

    `module` is the `platform_modules` code that switches the provider: its name by default
    (the built-in providers), another code or None (no row switches it) for a declared SQL provider.
    """
    rule = rules.get(platform.code) if platform.code is not None else None
    if rule is not None:
        if provider in rule.disable:
            return False
        if provider in rule.enable:
            return True
    code = provider if module is ... else module
    if code is None:
        return True
    row = directory.modules.get(platform.id, {}).get(code)
    if row is not None and code not in CORE_MODULES:
        return row
    return True


SHARD_STEPS = 16
"""Each shard's share of the vendor-id space is cut in about this many steps; boundaries sit on steps."""


@dataclass(frozen=True, slots=True)
class Shard:
    """`collection.shard: i/n`: this replica exports the i-th of n contiguous ranges of vendor ids.

    The ranges come from the directory every replica reads: the ids of the exported vendors
    (those with an active link to an active platform), sorted, cut into n runs of equal vendor
    count. Each cut is then rounded to a multiple of a power of two (`_step`), so a few vendors
    joining or leaving do not move it: it moves only when a shard's count drifts by about
    1/`SHARD_STEPS` of its vendors. Every replica computes the same cuts from the same rows.

    Ranges, not hashes, so that each shard's statements can read only its own vendors' rows
    through an index on `vendor_id` (`VendorRange`, passed to the providers in the context).
    """

    index: int = 0
    count: int = 1

    def vendor_range(self, directory: Directory) -> VendorRange:
        """This shard's vendor ids, from the directory: `EVERY_VENDOR` when unsharded."""
        if self.count == 1:
            return EVERY_VENDOR
        cuts = shard_cuts(sorted(directory.vendors), self.count)
        lo = None if self.index == 0 else cuts[self.index - 1]
        hi = None if self.index == self.count - 1 else cuts[self.index] - 1
        return VendorRange(lo, hi)

    @property
    def exports_platforms(self) -> bool:
        """Platform-scope values and platform info come from shard 0 only."""
        return self.index == 0


def shard_cuts(vendor_ids: Sequence[int], count: int) -> list[int]:
    """The count − 1 ids where shards 1 … count − 1 begin, from the sorted ids of the exported vendors.

    Equal vendor counts, each cut rounded to the nearest multiple of `_step`; if rounding would
    make two cuts meet (few vendors, or ids bunched together), the exact cuts are used.
    """
    if count <= 1:
        return []
    if not vendor_ids:
        return list(range(1, count))
    exact = [vendor_ids[len(vendor_ids) * k // count] for k in range(1, count)]
    step = _step(vendor_ids[-1], count)
    rounded = [max(1, round(cut / step) * step) for cut in exact]
    if step > 1 and all(a < b for a, b in pairwise(rounded)):
        return rounded
    if all(a < b for a, b in pairwise(exact)):
        return exact
    return sorted(set(exact) | set(range(1, count)))[: count - 1]  # fewer vendors than shards


def _step(top: int, count: int) -> int:
    """The largest power of two at most `top` / (count × SHARD_STEPS): the grid cuts are rounded to."""
    width = max(1, top // (count * SHARD_STEPS))
    return 1 << (width.bit_length() - 1)


@dataclass(frozen=True)
class Plan:
    """What one provider run computes: enabled platforms, the vendors exported under each, the shard's range."""

    platforms: Sequence[PlatformInfo]
    vendors_by_platform: Mapping[int, Sequence[int]]
    vendor_ids: frozenset[int]
    vendor_range: VendorRange = EVERY_VENDOR
    """The shard's vendor ids: every id in `vendor_ids` lies in it (providers may restrict their SQL to it)."""


def plan_run(
    provider: str,
    directory: Directory,
    rules: Mapping[str, PlatformRule],
    shard: Shard,
    *,
    vendor_series: bool = True,
    module: str | EllipsisType | None = ...,
) -> Plan:
    """Enabled platforms (by code) and, per platform, the active members in this shard's vendor-id range."""
    platforms = sorted(
        (p for p in directory.platforms.values() if is_enabled(provider, p, directory, rules, module)),
        key=lambda p: ordering(p.code, p.id),
    )
    vendor_range = shard.vendor_range(directory)
    by_platform: dict[int, Sequence[int]] = {}
    if vendor_series:
        for platform in platforms:
            members = directory.members.get(platform.id, ())
            if vendor_range.bounded:  # plain comparisons: this runs for every link of every provider run
                lo = vendor_range.lo if vendor_range.lo is not None else min(members, default=0)
                hi = vendor_range.hi if vendor_range.hi is not None else max(members, default=0)
                members = [v for v in members if lo <= v <= hi]
            by_platform[platform.id] = members
    vendor_ids = frozenset(v for ids in by_platform.values() for v in ids)
    return Plan(platforms=platforms, vendors_by_platform=by_platform, vendor_ids=vendor_ids, vendor_range=vendor_range)


def plan_all(directory: Directory, shard: Shard, *, vendor_series: bool = True) -> Plan:
    """Every active platform and the active members this shard owns: the info metrics' scope."""
    return plan_run("", directory, {}, shard, vendor_series=vendor_series)
