"""The merchant dashboard's totals are sums over the merchant's distinct vendors, evaluated by Prometheus' engine.

The exporter collects a small platform in which one vendor of the merchant is linked to two
platforms; its exposition, scraped by two replicas, becomes the input series of a
`promtool test rules` file whose expressions are the merchant dashboard's card queries, and whose
expected values are computed here in plain Python from the inserted rows.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from tests.support.builders import NOW, Rows
from tests.support.dashboard_queries import Variable, interpolate, iter_panels, load_dashboards
from tests.support.exporting import Exposition, FixedClock, collect
from tests.support.processes import promtool

pytestmark = pytest.mark.prometheus

BOARD = load_dashboards()["merchant.json"]
MERCHANT = "Acme Retail"
WINDOW_START = NOW - timedelta(days=30)
REVENUE_STATUSES = ("pending", "processing", "shipped", "delivered")
REPLICAS = ("a:9814", "b:9814")
"""Two exporters scrape the same database: every series arrives twice, with another `instance`."""

Row = dict[str, Any]


def platform_with_merchants(rows: Rows) -> None:
    """Acme owns A1 (on main and market), A2 (main, inactive, verified) and A3 (market); Nord owns N1; SOLO none."""
    main, market = rows.platform("main"), rows.platform("market")
    rows.platform("closed", active=False)
    acme = rows.add("companies", name=MERCHANT, is_active=True, is_verified=True, created_at=rows.ago(days=900))
    nord = rows.add("companies", name="Nordwind", is_active=True, is_verified=False, created_at=rows.ago(days=900))
    a1 = rows.vendor("A1", company_id=acme["id"], verified=True)
    a2 = rows.vendor("A2", company_id=acme["id"], active=False, verified=True)
    a3 = rows.vendor("A3", company_id=acme["id"])
    n1 = rows.vendor("N1", company_id=nord["id"])
    solo = rows.vendor("SOLO")
    for vendor, platforms in ((a1, (main, market)), (a2, (main,)), (a3, (market,)), (n1, (main,)), (solo, (main,))):
        for platform in platforms:
            rows.link(vendor, platform)
    users = [rows.user() for _ in range(4)]
    for vendor, members in ((a1, users[:3]), (a2, users[2:]), (a3, users[:1]), (n1, users)):
        for user in members:
            rows.member(vendor, user)
    rows.member(a3, users[3], active=False)
    for vendor, old, new in ((a1, 5, 2), (a2, 1, 0), (a3, 2, 3), (n1, 4, 4), (solo, 3, 1)):
        for _ in range(old):
            rows.customer(vendor)
        for n in range(new):
            rows.customer(vendor, created_at=rows.ago(days=n + 1))
    # Whole quarters of a unit, so that float sums in any order are exact (promtool compares exactly).
    orders = [
        (a1, [(1975, "delivered", "EUR", 40), (500, "pending", "EUR", 2), (700, "cancelled", "EUR", 3)]),
        (a1, [(1250, "shipped", "USD", 5)]),
        (a2, [(325, "delivered", "EUR", 90), (4100, "refunded", "EUR", 1)]),
        (a3, [(875, "processing", "EUR", 1), (125, "delivered", "GBP", 20), (975, "delivered", "USD", 60)]),
        (n1, [(5000, "delivered", "EUR", 1)]),
        (solo, [(7000, "delivered", "EUR", 2)]),
    ]
    for vendor, placed in orders:
        for cents, status, currency, days in placed:
            rows.order(vendor, cents, status=status, currency=currency, created_at=rows.ago(days=days))
    for vendor, stocks in ((a1, (0, 4, 9)), (a2, (0, 0)), (a3, (2,)), (n1, (0,))):
        for quantity in stocks:
            rows.stock(rows.product(vendor), quantity)
    rows.product(a1, active=False)  # inactive: neither active nor out of stock
    rows.product(a3)  # active without any stock row: out of stock
    for vendor, statuses in (
        (a1, ("completed", "completed", "completed_with_errors", "failed", "pending")),
        (a2, ("completed_with_errors", "failed")),
        (a3, ("processing",)),
        (n1, ("failed",)),
    ):
        for status in statuses:
            rows.job(vendor, status)


# --- the expectation, from the rows --------------------------------------------------------------


def merchant_vendors(t: Mapping[str, list[Row]], merchant: str, platforms: Sequence[str]) -> list[Row]:
    """Distinct vendors of the merchant with an active link to one of the (active) selected platforms."""
    company_ids = {c["id"] for c in t["companies"] if c["name"] == merchant}
    platform_ids = {p["id"] for p in t["platforms"] if p["code"] in platforms and p["is_active"]}
    linked = {
        link["vendor_id"] for link in t["vendor_platforms"] if link["is_active"] and link["platform_id"] in platform_ids
    }
    return [v for v in t["vendors"] if v.get("company_id") in company_ids and v["id"] in linked]


def expected_totals(t: Mapping[str, list[Row]], vendors: list[Row]) -> dict[str, dict[str, float]]:
    """Card title → {result labels as JSON → value}: each row of the merchant's vendors counted once."""
    ids = {v["id"] for v in vendors}

    def of(table: str) -> list[Row]:
        return [row for row in t[table] if row["vendor_id"] in ids]

    revenue: dict[str, Fraction] = defaultdict(Fraction)
    for order in of("orders"):
        if order["status"] in REVENUE_STATUSES:
            revenue[order["currency"].lower()] += Fraction(order["total_amount_cents"], 100)
    products = [p for p in of("products") if p["is_active"]]
    stock = defaultdict(int)
    for row in of("inventory"):
        stock[row["product_id"]] += max(0, row["quantity"] - row["reserved_quantity"])
    out_of_stock = sum(1 for p in products if stock[p["id"]] == 0)
    jobs = of("marketplace_import_jobs")
    completed = sum(1 for j in jobs if j["status"] in ("completed", "completed_with_errors"))
    failed = sum(1 for j in jobs if j["status"] == "failed")
    plain = {
        "Vendors": len(vendors),
        "Active vendors": sum(1 for v in vendors if v["is_active"]),
        "Verified vendors": sum(1 for v in vendors if v["is_verified"]),
        "Customers": len(of("customers")),
        "Team members": sum(1 for m in of("vendor_users") if m["is_active"]),
        "Orders": len(of("orders")),
        "New orders ($period)": sum(1 for o in of("orders") if o["created_at"] >= WINDOW_START),
        "New customers ($period)": sum(1 for c in of("customers") if c["created_at"] >= WINDOW_START),
        "Out-of-stock share": out_of_stock / len(products),
        "Import success": completed / (completed + failed),
    }
    totals = {title: {"{}": float(value)} for title, value in plain.items()}
    totals["Revenue"] = {json.dumps({"currency": c}): float(amount) for c, amount in revenue.items()}
    return totals


# --- the dashboard's queries through promtool ------------------------------------------------


def card_queries(platforms: Sequence[str], merchant: str, ref: str = "A") -> dict[str, str]:
    """Card title → its value query (refId A) or trend query (B), variables replaced as Grafana would."""
    variables = {
        "platform": Variable("platform", True, list(platforms), list(platforms)),
        "merchant": Variable("merchant", False, [merchant], [merchant]),
        "currency": Variable("currency", False, ["eur"], ["eur"]),
        "period": Variable("period", False, ["30d"], ["30d"]),
        "trend_period": Variable("trend_period", False, ["7d"], ["7d"]),
        "datasource": Variable("datasource", False, ["prometheus"], ["prometheus"]),
    }
    cards = [panel for panel, _ in iter_panels(BOARD) if panel["type"] == "stat"]
    return {
        panel["title"]: interpolate(next(t["expr"] for t in panel["targets"] if t["refId"] == ref), variables, {})
        for panel in cards
    }


def series_text(name: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def input_series(exposition: Exposition) -> list[dict[str, str]]:
    """Every business and info series of the exposition, once per replica, constant for ten minutes."""
    return [
        {
            "series": series_text(name, {**dict(labels), "job": "commerce-exporter", "instance": replica}),
            "values": f"{value}x10",
        }
        for (name, labels), value in sorted(exposition.samples.items())
        if name.startswith(("commerce_vendor_", "commerce_platform_"))
        for replica in REPLICAS
    ]


def rule_test_file(tmp_path: Path, series: list[dict[str, str]], tests: list[dict[str, Any]]) -> Path:
    """A `promtool test rules` file with one test: these input series and expression tests."""
    path = tmp_path / "merchant.test.yml"
    test = {"interval": "1m", "input_series": series, "promql_expr_test": tests}
    document = {"rule_files": [], "evaluation_interval": "1m", "tests": [test]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def expression_tests(queries: Mapping[str, str], expected: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    return [
        {
            "expr": queries[title],
            "eval_time": "5m",
            "exp_samples": [
                {"labels": "{" + ", ".join(f'{k}="{v}"' for k, v in json.loads(labels).items()) + "}", "value": value}
                for labels, value in values.items()
            ],
        }
        for title, values in expected.items()
    ]


@pytest.mark.parametrize("platforms", [("main", "market"), ("market",)], ids=["all-platforms", "market-only"])
def test_merchant_cards_sum_each_distinct_vendor_once(
    writer: Engine, database_url: str, tmp_path: Path, platforms: tuple[str, ...]
) -> None:
    """Every card equals the sum over the merchant's distinct vendors on the picked platforms, though one of
    them is linked to both platforms and every series is scraped by two replicas."""
    rows = Rows(writer)
    platform_with_merchants(rows)
    exposition = collect(database_url, clock=FixedClock(NOW))
    assert all(r.ok for r in exposition.results), [r.error for r in exposition.results]
    vendors = merchant_vendors(rows.tables, MERCHANT, platforms)
    assert {v["vendor_code"] for v in vendors} == ({"A1", "A2", "A3"} if len(platforms) == 2 else {"A1", "A3"})
    expected = expected_totals(rows.tables, vendors)
    queries = card_queries(platforms, MERCHANT)
    assert set(queries) == set(expected), "every card of the dashboard has an expectation"
    tests = expression_tests(queries, expected)
    result = promtool("test", "rules", str(rule_test_file(tmp_path, input_series(exposition), tests)))
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")


def test_the_check_fails_when_a_vendor_is_counted_per_platform(
    writer: Engine, database_url: str, tmp_path: Path
) -> None:
    """Summing per platform instead of per vendor double-counts A1, and promtool reports the difference."""
    rows = Rows(writer)
    platform_with_merchants(rows)
    exposition = collect(database_url, clock=FixedClock(NOW))
    expected = expected_totals(rows.tables, merchant_vendors(rows.tables, MERCHANT, ("main", "market")))
    queries = card_queries(("main", "market"), MERCHANT)
    naive = {"Orders": queries["Orders"].replace("max by (vendor)", "sum by (vendor, platform)")}
    tests = expression_tests(naive, {"Orders": expected["Orders"]})
    result = promtool("test", "rules", str(rule_test_file(tmp_path, input_series(exposition), tests)))
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode != 0
    assert "FAILED" in output and "sum by (vendor, platform)" in output, output


def week_apart(old: Exposition, new: Exposition) -> list[dict[str, str]]:
    """Input series sampled daily: each series' value in `old` at day 0 and in `new` at day 7 (one replica)."""
    keys = sorted(set(old.samples) | set(new.samples))
    series = []
    for name, labels in keys:
        if not name.startswith(("commerce_vendor_", "commerce_platform_")):
            continue
        then, now = old.samples.get((name, labels)), new.samples.get((name, labels))
        values = ("_" if then is None else str(then)) + " _x6 " + ("_" if now is None else str(now))
        full = {**dict(labels), "job": "commerce-exporter", "instance": REPLICAS[0]}
        series.append({"series": series_text(name, full), "values": values})
    return series


def test_merchant_trends_compare_the_merchant_with_itself_a_week_earlier(
    writer: Engine, database_url: str, tmp_path: Path
) -> None:
    """A week after a first collection Acme has one more vendor and more orders: the Vendors and Orders
    cards show ▲ by the change in % of the week-old totals (each vendor still counted once)."""
    rows = Rows(writer)
    platform_with_merchants(rows)
    before = collect(database_url, clock=FixedClock(NOW))
    rows_before = copy.deepcopy(dict(rows.tables))
    acme = next(c for c in rows.tables["companies"] if c["name"] == MERCHANT)
    main = next(p for p in rows.tables["platforms"] if p["code"] == "main")
    rows.link(rows.vendor("A4", company_id=acme["id"]), main)
    a1 = next(v for v in rows.tables["vendors"] if v["vendor_code"] == "A1")
    for _ in range(3):
        rows.order(a1, 100)
    after = collect(database_url, clock=FixedClock(NOW))
    platforms = ("main", "market")
    then = expected_totals(rows_before, merchant_vendors(rows_before, MERCHANT, platforms))
    now = expected_totals(rows.tables, merchant_vendors(rows.tables, MERCHANT, platforms))
    queries = card_queries(platforms, MERCHANT, ref="B")
    tests = []
    for title in ("Vendors", "Orders"):
        old, new = then[title]["{}"], now[title]["{}"]
        assert new > old
        tests.append(
            {
                "expr": queries[title],
                "eval_time": "7d",
                "exp_samples": [{"labels": '{trend="▲ vs. 7d ago"}', "value": 100 * (new - old) / old}],
            }
        )
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1d", "input_series": week_apart(before, after), "promql_expr_test": tests}],
    }
    path = tmp_path / "trend.test.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
