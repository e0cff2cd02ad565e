"""Per-platform enablement: config wins, then platform_modules (not for core modules), then on."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.support.builders import Rows
from tests.support.exporting import collect


def platform_categories(sqlite_url: str, **sections: object) -> dict[str, set[str]]:
    exposition = collect(sqlite_url, **sections)
    seen: dict[str, set[str]] = {}
    for name, labels in exposition.samples:
        if name.startswith("commerce_platform_") and name != "commerce_platform_info":
            label = dict(labels)
            seen.setdefault(label["platform"], set()).add(label["category"])
    return seen


def test_enablement_precedence(sqlite_url: str, writer_sqlite: Engine) -> None:
    """platform_modules disables an optional module but not a core one; config overrides both ways."""
    rows = Rows(writer_sqlite)
    alpha, beta, gamma = rows.platform("alpha"), rows.platform("beta"), rows.platform("gamma")
    rows.module(alpha, "orders", False)  # optional: off
    rows.module(alpha, "customers", False)  # core: a row cannot turn it off
    rows.module(beta, "orders", False)  # off by row, but the config enables it again
    rows.module(gamma, "catalog", True)
    seen = platform_categories(
        sqlite_url, platforms={"beta": {"enable": ["orders"]}, "gamma": {"disable": ["catalog", "cms"]}}
    )
    everything = {"tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace"}
    assert seen["alpha"] == everything - {"orders"}
    assert seen["beta"] == everything
    assert seen["gamma"] == everything - {"catalog", "cms"}


def test_inactive_platform_is_not_exported(sqlite_url: str, writer_sqlite: Engine) -> None:
    """An inactive platform has no platform series, no info, and its vendors export nothing under it."""
    rows = Rows(writer_sqlite)
    live, dead = rows.platform("live"), rows.platform("dead", active=False)
    vendor = rows.vendor("V1")
    rows.link(vendor, live)
    rows.link(vendor, dead)
    exposition = collect(sqlite_url)
    platforms = {dict(labels).get("platform") for _, labels in exposition.samples}
    assert "live" in platforms
    assert "dead" not in platforms
