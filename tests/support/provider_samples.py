"""Look-ups of one exported business sample by family, key and owner, for the provider tests."""

from __future__ import annotations

from tests.support.exporting import Exposition


def vendor_value(
    exposition: Exposition, family: str, key: str, platform: str, vendor: str, **extra: str
) -> float | None:
    """`commerce_vendor_<family>{category,key,platform,vendor,…}`, or None when not exported."""
    labels = {"category": key.split(".")[0], "key": key, "platform": platform, "vendor": vendor, **extra}
    return exposition.value(f"commerce_vendor_{family}", **labels)


def platform_value(exposition: Exposition, family: str, key: str, platform: str, **extra: str) -> float | None:
    """`commerce_platform_<family>{category,key,platform,…}`, or None when not exported."""
    labels = {"category": key.split(".")[0], "key": key, "platform": platform, **extra}
    return exposition.value(f"commerce_platform_{family}", **labels)


def owners(exposition: Exposition) -> set[tuple[str, str | None]]:
    """(platform, vendor or None) of every business sample."""
    found = set()
    for (name, labels), _ in exposition.samples.items():
        label = dict(labels)
        if name.startswith("commerce_") and not name.startswith("commerce_exporter_") and "platform" in label:
            found.add((label["platform"], label.get("vendor")))
    return found


def categories(exposition: Exposition, platform: str) -> set[str]:
    """Categories with at least one sample under `platform`."""
    return {
        dict(labels)["category"]
        for (_, labels), _ in exposition.samples.items()
        if dict(labels).get("platform") == platform and "category" in dict(labels)
    }


def raw_values(exposition: Exposition) -> dict[tuple[str, frozenset[tuple[str, str]]], str]:
    """Every sample's value exactly as written in the exposition text (no float conversion)."""
    out = {}
    for line in exposition.text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, raw = line.rsplit(" ", 1)  # no timestamps are exported, so the value is the last field
        ((key, _),) = Exposition.parse(f"{series} 0\n").samples.items()
        out[key] = raw
    return out


PLAIN_VENDOR = {"merchant": "", "active": "true", "verified": "false"}
"""The vendor info labels of a vendor made by `Rows.vendor` with its defaults: no company, active, not verified."""


def info_value(exposition: Exposition, family: str, labels: dict[str, str]) -> float | None:
    """An info sample (its labels include `name`, which `Exposition.value` cannot take as a keyword)."""
    return exposition.samples.get((family, frozenset(labels.items())))
