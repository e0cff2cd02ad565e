"""Provider values → metric families: the text of every sample line, built once per run."""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

from exporter.contracts import Dropped, DropReason, MetricValue, Scope
from exporter.directory import Directory, Plan
from exporter.naming import escape_label_value, family_name
from exporter.values import SCALARS, Drops, is_text, utf8, well_formed_fields


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its name, HELP text, kind and the rendered sample lines.

    Sample lines read the same in the 0.0.4 text format and in OpenMetrics; only the HELP and
    TYPE lines differ, and `exporter.exposition` writes those per format.
    """

    name: str
    help: str
    info: bool
    """An info family: `<base>_info` (a gauge) in the text format, `<base>` (type info) in OpenMetrics."""
    body: bytes
    series: int

    @property
    def names(self) -> frozenset[str]:
        """The names this family takes in either format."""
        return owned_names(self.name, self.info)


def owned_names(name: str, info: bool) -> frozenset[str]:
    """An info family is `<base>` in OpenMetrics and `<base>_info` in text: it owns both names."""
    return frozenset((name, name.removesuffix("_info"))) if info else frozenset((name,))


def format_number(value: int | float | Decimal | None, scale: int) -> str | None:
    """A sample value as text; None when it cannot be exported (None, NaN, ±Inf, beyond float range)."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = int(value)  # bools are 0/1, never "True"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if not -_DECIMAL_EXACT <= value.adjusted() <= _DECIMAL_EXACT:
            # Exact digits would be thousands of characters (1E+9999) for a value that Prometheus
            # reads as a float64 anyway: go through float, which also catches out-of-range values.
            return format_number(float(value), scale)
        return format(_scaled(value, scale), "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(value / scale if scale != 1 else value)
    if not _FLOAT_MIN <= value <= _FLOAT_MAX:
        return None  # Prometheus would read it as ±Inf
    return str(value) if scale == 1 else repr(value / scale)


def _scaled(value: Decimal, scale: int) -> Decimal:
    """`value / scale` exactly: scales are 1 or a power of ten (100 for `%`), a shift of the exponent."""
    if scale == 1:
        return value
    shift = len(str(scale)) - 1
    if scale != 10**shift:
        raise ValueError(f"scale must be a power of ten, got {scale}")
    return value.scaleb(-shift, _EXACT_CONTEXT)


_EXACT_CONTEXT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Shifting an exponent in this context never rounds (the default context keeps 28 digits)."""

_FLOAT_MAX = int(sys.float_info.max)
_FLOAT_MIN = -_FLOAT_MAX
_DECIMAL_EXACT = 30
"""Decimals whose exponent is within ±30 are written exactly (money, counts); others as floats."""


@dataclass(eq=False, slots=True)
class _Accumulator:
    """One family being built: text chunks in output order and the number of samples in them."""

    name: str
    key: str
    info: bool
    help: str
    chunks: list[bytes] = field(default_factory=list)
    """Encoded as they are made, so a family's text never exists as str and bytes at once in full."""
    series: int = 0


@dataclass(eq=False, slots=True)
class _Target:
    """Where the samples of one label head go; resolved once per run and signature, not per value."""

    family: _Accumulator
    head: str
    """`name{category="…",key="…",[period="…",]` — everything before the owner labels."""
    slot: tuple[str, str]
    """(family name, period): one sample per owner and slot, a second one is a duplicate."""
    scale: int
    samples: dict[int, str] = field(default_factory=dict)
    """Vendor id → the sample's text after `vendor="` (the vendor code onwards), for every platform."""
    more: dict[int, list[str]] = field(default_factory=dict)
    """Vendor id → the texts of its further samples (other extra label values), in the order given."""


Signature = tuple[object, ...]
"""(key, category, label, description, unit, period, is-info) of a value: equal signatures render alike."""


@dataclass
class Rendered:
    """Families of one provider run, and what was left out and why."""

    families: list[Family]
    dropped: Counter[DropReason]
    invalid: int


class FamilyBuilder:
    """Collects values of one provider run into families, dropping and counting what cannot go out.

    `taken` holds names other providers (and the info metrics) own: a value that maps onto
    one is dropped as a name collision, never exported as a clashing family.

    Built for hundreds of thousands of lines per run: a provider returns the same few keys for
    every vendor, so everything that depends only on a value's signature (validation, family
    name, collisions, HELP, the label text up to the owner) is resolved once per run. Per value,
    only the text from the vendor code to the end of the line is built, once for all platforms;
    per platform and family, `prefix.join(texts)` then writes every line in C.
    """

    def __init__(
        self,
        namespace: str,
        provider: str,
        refresh: str,
        *,
        allowed_keys: Collection[str] | None = None,
        taken: Collection[str] = (),
        quiet: Collection[DropReason] = (),
    ) -> None:
        self.namespace = namespace
        self.provider = provider
        self.refresh = refresh
        self.allowed = frozenset(allowed_keys) if allowed_keys is not None else None
        self.taken = frozenset(taken)
        self.drops = Drops(provider, quiet)
        self.families: dict[str, _Accumulator] = {}
        self.claimed: set[str] = set()
        self._signatures: dict[Scope, dict[Signature, _Target | DropReason]] = {scope: {} for scope in Scope}
        self._heads: dict[str, _Target] = {}
        self._label_text: dict[tuple[tuple[str, str], ...], str | None] = {}

    def _resolve(self, scope: Scope, value: MetricValue, is_info: bool) -> _Target | DropReason:
        """The target of a signature seen for the first time in this run, or why it cannot go out."""
        if not well_formed_fields(value):
            return DropReason.INVALID
        if self.allowed is not None and value.key not in self.allowed:
            return DropReason.NOT_ALLOWED
        if not (is_text(value.key) and is_text(value.category) and is_text(value.period or "")):
            return DropReason.INVALID  # these become label values, which must be text
        target = family_name(self.namespace, scope, value.key, value.unit)
        name = target.name
        if is_info and not name.endswith("_info"):
            name = f"{name}_info"
        accumulator = self.families.get(name)
        if accumulator is None:
            claims = owned_names(name, is_info)
            if claims & self.taken or claims & self.claimed:
                return DropReason.NAME_COLLISION
            self.claimed |= claims
            help_text = utf8(
                f"{value.description or value.label} Refreshed every {self.refresh} by the {self.provider} provider."
            )
            accumulator = self.families[name] = _Accumulator(name, value.key, is_info, help_text)
        elif accumulator.key != value.key or accumulator.info != is_info:
            return DropReason.NAME_COLLISION
        period = value.period
        head = f'{name}{{category="{escape_label_value(value.category)}",key="{escape_label_value(value.key)}",' + (
            f'period="{escape_label_value(period)}",' if period else ""
        )
        # Signatures that differ only in label or description write the same lines: one target.
        if head not in self._heads:
            self._heads[head] = _Target(accumulator, head, (name, period or ""), target.scale)
        return self._heads[head]

    def _entries(
        self, scope: Scope, values: Iterable[object], vendor: tuple[int, str] | None = None
    ) -> list[tuple[_Target, str]]:
        """(target, text after the owner labels) of one owner's values, in the order given.

        With `vendor` (id, quoted code), each sample is stored on its target for every platform
        instead, and nothing is returned: that is the hot path, once per value of every vendor.
        """
        signatures = self._signatures[scope]
        drops = self.drops
        entries: list[tuple[_Target, str]] = []
        vendor_id, quoted = vendor if vendor is not None else (0, "")
        seen: set[tuple[str, ...]] = set()
        for value in values:
            if type(value) is not MetricValue and not isinstance(value, MetricValue):
                if type(value) is Dropped:
                    drops.by_data(value)
                else:
                    drops.malformed(value)
                continue
            number = value.value
            kind = type(number)
            if kind is int or kind is Decimal or kind is float or kind is str or number is None:
                is_info = kind is str
            elif isinstance(number, SCALARS):
                is_info = isinstance(number, str)
            else:
                drops.malformed(value)
                continue
            signature = (value.key, value.category, value.label, value.description, value.unit, value.period, is_info)
            try:
                target = signatures.get(signature)
            except TypeError:  # an unhashable field: certainly not a well-formed value
                drops.malformed(value)
                continue
            if target is None:
                target = signatures[signature] = self._resolve(scope, value, is_info)
            if not isinstance(target, _Target):
                drops.rejected(target, value)
                continue
            slot: tuple[str, ...] = target.slot
            extra = ""
            if value.labels:
                pairs = self._extra_labels(value.labels)
                if pairs is None:
                    drops.malformed(value)
                    continue
                extra = pairs
                slot = (*slot, extra)
            if slot in seen:
                drops.add(DropReason.DUPLICATE, value.key, "same key (and labels) twice for one owner")
                continue
            seen.add(slot)
            if isinstance(number, str):
                if not is_text(number):
                    drops.add(DropReason.INVALID, value, "label value is not valid Unicode text")
                    continue
                tail = f'{extra},value="{escape_label_value(number)}"}} 1\n'
            elif type(number) is int and target.scale == 1 and _FLOAT_MIN <= number <= _FLOAT_MAX:
                tail = f"{extra}}} {number}\n"
            else:
                text = None if number is None else format_number(number, target.scale)
                if text is None:
                    drops.add(DropReason.NON_FINITE, value.key, "NaN, infinity or None")
                    continue
                tail = f"{extra}}} {text}\n"
            if vendor is None:
                entries.append((target, tail))
            elif vendor_id in target.samples:  # a second label set of this vendor: a line of its own
                target.more.setdefault(vendor_id, []).append(quoted + tail)
            else:
                target.samples[vendor_id] = quoted + tail
        return entries

    def _extra_labels(self, labels: tuple[tuple[str, str], ...]) -> str | None:
        """`,name="value"…` of a value's extra labels, or None when they are malformed (cached per label set)."""
        try:
            return self._label_text[labels]
        except KeyError:
            found = self._label_text[labels] = _label_pairs(labels)
            return found
        except TypeError:  # unhashable: certainly not pairs of strings
            return None

    def add_vendors(self, directory: Directory, plan: Plan, values: Mapping[int, Iterable[object]]) -> None:
        """Vendor values, computed once per vendor, written under every platform the vendor is on.

        A vendor without a usable code, or on no platform with one, exports nothing: its values
        are counted as dropped once (not once per platform).
        """
        vendors = directory.vendors
        platforms = [(p, p.code) for p in plan.platforms if p.code is not None]
        unlabelled = [p for p in plan.platforms if p.code is None]
        orphans: dict[int, DropReason] = {}
        if unlabelled:
            shown = {v for p, _ in platforms for v in plan.vendors_by_platform.get(p.id, ())}
            for platform in unlabelled:
                for vendor_id in plan.vendors_by_platform.get(platform.id, ()):
                    if vendor_id not in shown:
                        orphans.setdefault(vendor_id, platform.problem or DropReason.MISSING_CODE)
        for vendor_id in sorted(plan.vendor_ids):
            vendor = vendors[vendor_id]
            problem = vendor.problem if vendor.code is None else orphans.get(vendor_id)
            if problem is not None or vendor.code is None:
                reason = problem or DropReason.MISSING_CODE
                self.drops.unexported(values.get(vendor_id, ()), reason, f"vendor id {vendor_id}")
                continue
            quoted = utf8(escape_label_value(vendor.code)) + '"'
            self._entries(Scope.VENDOR, values.get(vendor_id, ()), (vendor_id, quoted))
        targets = [t for t in self._heads.values() if t.samples]  # creation order: stable run to run
        for platform, code in platforms:
            members = plan.vendors_by_platform.get(platform.id, ())
            owner = f'platform="{utf8(escape_label_value(code))}",vendor="'
            for target in targets:
                samples = target.samples
                if target.more:
                    more = target.more
                    texts = []
                    for member in members:
                        text = samples.get(member)
                        if text is not None:
                            texts.append(text)
                            texts += more.get(member, ())
                elif len(samples) == len(plan.vendor_ids):
                    texts = list(map(samples.__getitem__, members))
                else:
                    texts = [text for text in map(samples.get, members) if text is not None]
                if texts:
                    prefix = target.head + owner
                    target.family.chunks.append((prefix + prefix.join(texts)).encode())
                    target.family.series += len(texts)
        for target in targets:
            target.samples = {}
            target.more = {}

    def add_platforms(self, plan: Plan, values: Mapping[int, Iterable[object]]) -> None:
        """Platform values; those of a platform without a usable code are counted, not exported."""
        for platform in plan.platforms:
            if platform.code is None:
                reason = platform.problem or DropReason.MISSING_CODE
                self.drops.unexported(values.get(platform.id, ()), reason, f"platform id {platform.id}")
                continue
            owner = f'platform="{utf8(escape_label_value(platform.code))}"'
            for target, tail in self._entries(Scope.PLATFORM, values.get(platform.id, ())):
                target.family.chunks.append((target.head + owner + tail).encode())
                target.family.series += 1

    def build(self) -> Rendered:
        """Families with at least one sample."""
        families = [
            Family(a.name, a.help, a.info, b"".join(a.chunks), a.series) for a in self.families.values() if a.series
        ]
        return Rendered(families, self.drops.counts, self.drops.invalid)


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
OWN_LABELS = frozenset({"category", "key", "period", "platform", "vendor", "value"})
"""Labels the exporter writes itself: an extra label may not take their names."""


def _label_pairs(labels: object) -> str | None:
    """`,name="value"…` of extra (name, value) label pairs; None unless every pair is well-formed and names differ."""
    if type(labels) is not tuple:
        return None
    names: set[str] = set()
    text = []
    for pair in labels:
        if type(pair) is not tuple or len(pair) != 2:
            return None
        name, value = pair
        if not (isinstance(name, str) and isinstance(value, str)) or not is_text(value):
            return None
        if not _LABEL_NAME.match(name) or name.startswith("__") or name in OWN_LABELS or name in names:
            return None
        names.add(name)
        text.append(f',{name}="{escape_label_value(value)}"')
    return "".join(text)


_BOOL = {True: "true", False: "false"}


def info_families(namespace: str, directory: Directory, plan: Plan, *, platforms: bool, vendors: bool) -> list[Family]:
    """`<ns>_platform_info{name,platform}` and `<ns>_vendor_info{active,merchant,name,platform,vendor,verified}`, 1.

    Vendors and platforms without a usable code have no line (their business values are counted
    as dropped by each provider); a name that is unusable was replaced by the code in the directory.
    """
    labelled = [(p, p.code) for p in plan.platforms if p.code is not None]
    families = []
    if platforms:
        lines = [
            f'{namespace}_platform_info{{name="{escape_label_value(p.name)}",'
            f'platform="{escape_label_value(code)}"}} 1\n'
            for p, code in labelled
        ]
        families.append(
            Family(
                f"{namespace}_platform_info",
                "Platform code and display name, 1 per exported platform; join on the platform label.",
                True,
                "".join(lines).encode(),
                len(lines),
            )
        )
    if vendors:
        lines = []
        for p, code in labelled:
            platform_label = escape_label_value(code)
            for vendor_id in plan.vendors_by_platform.get(p.id, ()):
                vendor = directory.vendors[vendor_id]
                if vendor.code is None:
                    continue
                lines.append(
                    f'{namespace}_vendor_info{{active="{_BOOL[vendor.active]}",'
                    f'merchant="{escape_label_value(vendor.merchant)}",name="{escape_label_value(vendor.name)}",'
                    f'platform="{platform_label}",vendor="{escape_label_value(vendor.code)}",'
                    f'verified="{_BOOL[vendor.verified]}"}} 1\n'
                )
        families.append(
            Family(
                f"{namespace}_vendor_info",
                "Vendor code, display name, merchant (owning company) and active/verified flags, 1 per vendor "
                "linked to the platform; join on platform and vendor.",
                True,
                "".join(lines).encode(),
                len(lines),
            )
        )
    return [f for f in families if f.series]
