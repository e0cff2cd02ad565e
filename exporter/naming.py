"""Family names and label escaping: how provider keys and units become exported names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from exporter.contracts import Scope

_OUTSIDE = re.compile(r"[^a-z0-9]+")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_NAMESPACE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
UNITLESS = frozenset({"", "items", "count"})


@dataclass(frozen=True, slots=True)
class FamilyName:
    """A family name and the factor applied to values on the way out (`%` → ratio)."""

    name: str
    scale: int = 1


def sanitize(text: str) -> str:
    """Lower-case, every run of characters outside `[a-z0-9]` → `_`, trimmed."""
    return _OUTSIDE.sub("_", text.lower()).strip("_")


def valid_namespace(namespace: str) -> bool:
    """A namespace must itself be a valid metric name prefix."""
    return bool(_NAMESPACE.match(namespace))


@lru_cache(maxsize=4096)
def family_name(namespace: str, scope: Scope, key: str, unit: str | None) -> FamilyName:
    """`{namespace}_{scope}_{base}[_{unit}]` for one key and unit.

    The base drops trailing `_total` (gauges must not end in it, Prometheus reserves it for
    counters); `%` becomes a `ratio` with values ÷ 100; a currency code becomes its lower-case
    code; a unit is not appended when the base already ends with it.
    """
    base = sanitize(key)
    while base == "total" or base.endswith("_total"):
        base = base[: -len("total")].rstrip("_")
    base = base or "value"
    scale = 1
    unit_text = (unit or "").strip()
    if unit_text == "%":
        suffix, scale = "ratio", 100
    elif _CURRENCY.match(unit_text):
        suffix = unit_text.lower()
    else:
        suffix = sanitize(unit_text)
    if suffix in UNITLESS or base == suffix or base.endswith(f"_{suffix}"):
        suffix = ""
    name = f"{namespace}_{scope.value}_{base}"
    return FamilyName(f"{name}_{suffix}" if suffix else name, scale)


def escape_label_value(value: str) -> str:
    """Label value escaping shared by the 0.0.4 text format and OpenMetrics."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help_text(text: str) -> str:
    """HELP escaping of the 0.0.4 text format (quotes stay as they are)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_help_openmetrics(text: str) -> str:
    """HELP escaping of OpenMetrics, which also escapes double quotes."""
    return escape_label_value(text)
