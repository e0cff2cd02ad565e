"""Provider values → prepared exposition bytes (both formats, plain and deflated), once per run."""

from __future__ import annotations

import logging
import math
import sys
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from exporter.contracts import MetricValue, Scope
from exporter.directory import Directory, Plan
from exporter.naming import (
    escape_help_openmetrics,
    escape_help_text,
    escape_label_value,
    family_name,
)

log = logging.getLogger(__name__)

DEFLATE_LEVEL = 1
"""Level 1 compresses exposition text about 15:1 at a third of the cost of the default level."""


class DropReason(StrEnum):
    """Why a single value was left out of the exposition; the `reason` of the drop counter."""

    INVALID = "invalid"
    NON_FINITE = "non_finite"
    DUPLICATE = "duplicate"
    NAME_COLLISION = "name_collision"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its name, HELP text, kind and the rendered sample lines."""

    name: str
    help: str
    info: bool
    body: bytes
    series: int


def deflate(data: bytes) -> bytes:
    """Raw deflate ending on a byte boundary without a final block, so pieces concatenate."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


@dataclass(frozen=True)
class Prepared:
    """The exposition of one snapshot, ready to be copied into responses.

    Sample lines are identical in the 0.0.4 text format and OpenMetrics, so each family's body
    is stored once and shared by both formats; only the HELP/TYPE headers differ.
    """

    text: tuple[bytes, ...] = ()
    openmetrics: tuple[bytes, ...] = ()
    text_deflated: tuple[bytes, ...] = ()
    openmetrics_deflated: tuple[bytes, ...] = ()
    series: int = 0
    names: frozenset[str] = frozenset()


def prepare(families: Iterable[Family]) -> Prepared:
    """Headers per format, bodies shared, every piece also deflated (sync-flushed)."""
    text: list[bytes] = []
    openmetrics: list[bytes] = []
    text_z: list[bytes] = []
    openmetrics_z: list[bytes] = []
    series = 0
    names: set[str] = set()
    for family in sorted(families, key=lambda f: f.name):
        if family.info:
            base = family.name.removesuffix("_info")
            text_header = f"# HELP {family.name} {escape_help_text(family.help)}\n# TYPE {family.name} gauge\n"
            om_header = f"# HELP {base} {escape_help_openmetrics(family.help)}\n# TYPE {base} info\n"
            names.update((family.name, base))
        else:
            text_header = f"# HELP {family.name} {escape_help_text(family.help)}\n# TYPE {family.name} gauge\n"
            om_header = f"# HELP {family.name} {escape_help_openmetrics(family.help)}\n# TYPE {family.name} gauge\n"
            names.add(family.name)
        body_z = deflate(family.body)
        text_bytes, om_bytes = text_header.encode(), om_header.encode()
        text += (text_bytes, family.body)
        openmetrics += (om_bytes, family.body)
        text_z += (deflate(text_bytes), body_z)
        openmetrics_z += (deflate(om_bytes), body_z)
        series += family.series
    return Prepared(
        text=tuple(text),
        openmetrics=tuple(openmetrics),
        text_deflated=tuple(text_z),
        openmetrics_deflated=tuple(openmetrics_z),
        series=series,
        names=frozenset(names),
    )


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
        return format(value / scale if scale != 1 else value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(value / scale if scale != 1 else value)
    if not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return None  # Prometheus would read it as ±Inf
    return str(value) if scale == 1 else repr(value / scale)


_FLOAT_MAX = int(sys.float_info.max)
_DECIMAL_EXACT = 30
"""Decimals whose exponent is within ±30 are written exactly (money, counts); others as floats."""


@dataclass
class _Accumulator:
    name: str
    key: str
    info: bool
    help: str
    lines: list[str] = field(default_factory=list)


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
    """

    def __init__(
        self,
        namespace: str,
        provider: str,
        refresh: str,
        *,
        allowed_keys: Collection[str] | None = None,
        taken: Collection[str] = (),
    ) -> None:
        self.namespace = namespace
        self.provider = provider
        self.refresh = refresh
        self.allowed = frozenset(allowed_keys) if allowed_keys is not None else None
        self.taken = frozenset(taken)
        self.families: dict[str, _Accumulator] = {}
        self.claimed: set[str] = set()
        self.dropped: Counter[DropReason] = Counter()
        self.invalid = 0

    def _drop(self, reason: DropReason, value: object, detail: str) -> None:
        self.dropped[reason] += 1
        if reason is DropReason.INVALID:
            self.invalid += 1
        if self.dropped[reason] == 1:
            log.warning("provider %s: value dropped (%s): %s: %r", self.provider, reason, detail, value)

    def _entries(self, scope: Scope, values: Iterable[object]) -> list[tuple[list[str], str, str]]:
        """Per value: (family lines, head up to the owner labels, tail after them)."""
        entries: list[tuple[list[str], str, str]] = []
        seen: set[tuple[str, str]] = set()
        for value in values:
            if not isinstance(value, MetricValue) or not _well_formed(value):
                self._drop(DropReason.INVALID, value, "not a well-formed MetricValue")
                continue
            if self.allowed is not None and value.key not in self.allowed:
                self.dropped[DropReason.NOT_ALLOWED] += 1
                continue
            target = family_name(self.namespace, scope, value.key, value.unit)
            is_info = isinstance(value.value, str)
            name = target.name
            if is_info and not name.endswith("_info"):
                name = f"{name}_info"
            accumulator = self.families.get(name)
            if accumulator is None:
                # An info family is `<base>` in OpenMetrics and `<base>_info` in text: it owns both.
                claims = {name, name.removesuffix("_info")} if is_info else {name}
                if claims & self.taken or claims & self.claimed:
                    self._drop(DropReason.NAME_COLLISION, value.key, f"{name} is already exported")
                    continue
                self.claimed |= claims
                help_text = _utf8(
                    f"{value.description or value.label} "
                    f"Refreshed every {self.refresh} by the {self.provider} provider."
                )
                accumulator = self.families[name] = _Accumulator(name, value.key, is_info, help_text)
            elif accumulator.key != value.key or accumulator.info != is_info:
                self._drop(DropReason.NAME_COLLISION, value.key, f"{name} is already exported for {accumulator.key!r}")
                continue
            period = value.period
            if (name, period or "") in seen:
                self._drop(DropReason.DUPLICATE, value.key, "same key twice for one owner")
                continue
            seen.add((name, period or ""))
            if is_info:
                tail = f',value="{escape_label_value(value.value)}"}} 1\n'  # type: ignore[arg-type]
            else:
                number = format_number(value.value, target.scale)  # type: ignore[arg-type]
                if number is None:
                    self._drop(DropReason.NON_FINITE, value.key, "NaN, infinity or None")
                    continue
                tail = f"}} {number}\n"
            head = f'{name}{{category="{escape_label_value(value.category)}",key="{escape_label_value(value.key)}",' + (
                f'period="{escape_label_value(period)}",' if period else ""
            )
            entries.append((accumulator.lines, head, tail))
        return entries

    def add_vendors(self, directory: Directory, plan: Plan, values: Mapping[int, Iterable[object]]) -> None:
        """Vendor values, computed once per vendor, written under every platform the vendor is on."""
        prepared = {vendor_id: self._entries(Scope.VENDOR, values.get(vendor_id, ())) for vendor_id in plan.vendor_ids}
        for platform in plan.platforms:
            platform_label = f'platform="{escape_label_value(platform.code)}",vendor="'
            for vendor_id in plan.vendors_by_platform.get(platform.id, ()):
                owner = f'{platform_label}{escape_label_value(directory.vendors[vendor_id].code)}"'
                for lines, head, tail in prepared[vendor_id]:
                    lines.append(head + owner + tail)

    def add_platforms(self, plan: Plan, values: Mapping[int, Iterable[object]]) -> None:
        """Platform values."""
        for platform in plan.platforms:
            owner = f'platform="{escape_label_value(platform.code)}"'
            for lines, head, tail in self._entries(Scope.PLATFORM, values.get(platform.id, ())):
                lines.append(head + owner + tail)

    def build(self) -> Rendered:
        """Families with at least one sample."""
        families = []
        for a in self.families.values():
            try:
                body = "".join(a.lines).encode()
            except UnicodeEncodeError:  # a lone surrogate in some label: not text, so not exportable
                lines = [line for line in a.lines if _utf8(line) == line]
                for _ in range(len(a.lines) - len(lines)):
                    self._drop(DropReason.INVALID, a.key, "label value is not valid Unicode text")
                a.lines = lines
                body = "".join(lines).encode()
            if a.lines:
                families.append(Family(a.name, a.help, a.info, body, len(a.lines)))
        return Rendered(families, self.dropped, self.invalid)


def _utf8(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) replaced by "?"."""
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _well_formed(value: MetricValue) -> bool:
    """Types a renderer relies on; anything else is malformed provider output."""
    return (
        isinstance(value.key, str)
        and bool(value.key.strip())
        and isinstance(value.category, str)
        and isinstance(value.label, str)
        and (value.description is None or isinstance(value.description, str))
        and (value.unit is None or isinstance(value.unit, str))
        and (value.period is None or isinstance(value.period, str))
        and (value.value is None or isinstance(value.value, (bool, int, float, Decimal, str)))
    )


def info_families(namespace: str, directory: Directory, plan: Plan, *, platforms: bool, vendors: bool) -> list[Family]:
    """`<ns>_platform_info{name,platform}` and `<ns>_vendor_info{name,platform,vendor}`, value 1."""
    families = []
    if platforms:
        lines = [
            f'{namespace}_platform_info{{name="{escape_label_value(p.name)}",'
            f'platform="{escape_label_value(p.code)}"}} 1\n'
            for p in plan.platforms
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
        for p in plan.platforms:
            platform_label = escape_label_value(p.code)
            for vendor_id in plan.vendors_by_platform.get(p.id, ()):
                vendor = directory.vendors[vendor_id]
                lines.append(
                    f'{namespace}_vendor_info{{name="{escape_label_value(vendor.name)}",'
                    f'platform="{platform_label}",vendor="{escape_label_value(vendor.code)}"}} 1\n'
                )
        families.append(
            Family(
                f"{namespace}_vendor_info",
                "Vendor code and display name, 1 per vendor linked to the platform; join on platform and vendor.",
                True,
                "".join(lines).encode(),
                len(lines),
            )
        )
    return [f for f in families if f.series]
