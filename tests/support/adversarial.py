"""One small platform database that contains every edge case of the provider catalog at once.

Each vendor stands for a case (see `World`); the values the exporter must produce are not
written here but computed by `tests.support.reference` from the rows this inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tests.support.builders import Rows

INT32_MAX = 2**31 - 1

HOSTILE_CODE = 'Zoë "both"'
"""Vendor code with a quote, a space and a non-ASCII letter."""
HOSTILE_CODE_2 = "back\\slash\nnew-line"
"""Vendor code with a backslash and a newline."""
HOSTILE_NAME = 'Zoë\'s "Ørsted" \\ Shop\nNord'
HOSTILE_PLATFORM_NAME = 'Markt "Süd" \\ Ost'

Entity = dict[str, Any]


@dataclass(frozen=True)
class World:
    """The rows that stand for each case."""

    main: Entity
    market: Entity
    closed: Entity
    both: Entity
    """Active on main and market."""
    half: Entity
    """Active on main, inactive link to market."""
    hidden: Entity
    """Only an inactive link (to main): exported nowhere, counted nowhere."""
    closed_only: Entity
    """Only on the inactive platform."""
    empty: Entity
    """On market, no rows in any table."""
    plain: Entity
    """On main; only cancelled/refunded orders, a page on a platform it is not linked to."""


def build_world(rows: Rows) -> World:
    """Insert the adversarial data set through `rows` (which remembers every row)."""
    now = rows.now
    start = now - timedelta(days=30)
    second = timedelta(seconds=1)

    main = rows.platform("main", settings={"theme": "dark"})
    market = rows.platform("market", name=HOSTILE_PLATFORM_NAME)
    closed = rows.platform("closed", active=False)
    rows.module(main, "inventory", True)
    rows.module(market, "orders", False)  # an optional module switched off
    rows.module(market, "customers", False)  # a core module: the row cannot switch it off
    rows.module(closed, "catalog", True)
    rows.add(
        "platform_modules",
        platform_id=main["id"],
        module_code="marketplace",
        is_enabled=True,
        config={"feed": "nightly"},
        enabled_at=rows.ago(days=3),
    )

    users = [rows.user() for _ in range(5)] + [rows.user(last_login_at=rows.ago(hours=1))]
    owner = rows.add(
        "companies",
        name="Acme",
        owner_user_id=users[0]["id"],
        is_active=True,
        is_verified=True,
        created_at=rows.ago(days=900),
    )
    rows.add("companies", name="Ünowned", is_active=False, is_verified=False, created_at=rows.ago(days=800))

    both = rows.vendor(HOSTILE_CODE, name=HOSTILE_NAME, verified=True, company_id=owner["id"], subdomain="both")
    half = rows.vendor(HOSTILE_CODE_2, name="Half\\Linked", active=False)
    hidden = rows.vendor("HIDDEN", verified=True)
    closed_only = rows.vendor("CLOSED")
    empty = rows.vendor("EMPTY", active=False, verified=True)
    plain = rows.vendor("ÅSA-Ω", name="Åsa Ω", verified=True, subdomain="asa")

    rows.add(
        "vendor_platforms",
        vendor_id=both["id"],
        platform_id=main["id"],
        tier_id=2,
        is_active=True,
        joined_at=rows.ago(days=200),
    )
    rows.link(both, market)
    rows.link(half, main)
    rows.link(half, market, active=False)
    rows.link(hidden, main, active=False)
    rows.link(closed_only, closed)
    rows.link(empty, market)
    rows.link(plain, main)

    # Teams: a user shared by two vendors of main counts once there; inactive memberships never.
    rows.member(both, users[0])
    rows.member(both, users[1])
    rows.member(both, users[2], active=False)
    rows.member(half, users[0])
    rows.member(half, users[3])
    rows.member(hidden, users[4])
    rows.member(closed_only, users[5])
    rows.member(plain, users[1])

    rows.domain(both, "both.example", verified=True, primary=True)
    rows.domain(both, "www.both.example")
    rows.domain(both, "old.both.example", verified=True, active=False)
    rows.domain(half, "half.example")
    rows.domain(hidden, "hidden.example", verified=True)
    rows.domain(closed_only, "closed.example", verified=True)

    # Customers around the window edges: start and now are inside, one second beyond either is not.
    for vendor in (both, half, hidden, closed_only, plain):
        rows.customer(vendor)
        rows.customer(vendor, active=False, created_at=start)
        rows.customer(vendor, created_at=now)
        rows.customer(vendor, created_at=start - second)
        rows.customer(vendor, active=vendor is not plain, created_at=now + second)
    rows.customer(both, created_at=start + second)

    # Pages: the platform's own, vendors' on a platform they are (not) actively linked to.
    rows.page(main, None, published_at=rows.ago(days=3))
    rows.page(main, None, published=False)
    rows.page(market, None)
    rows.page(closed, None)
    rows.page(main, both, published_at=rows.ago(days=1))
    rows.page(market, both, published=False)
    rows.page(main, half)
    rows.page(market, half)  # half's market link is inactive: not a market page
    rows.page(main, hidden)
    rows.page(market, plain, published=False)  # plain is not on market at all
    rows.page(closed, closed_only)

    # Media sizes whose sums overflow 32 bits.
    rows.media(both, 3_000_000_000)
    rows.media(both, 1_500_000_000)
    rows.media(half, 1)
    rows.media(hidden, 2**31)
    rows.media(plain, 0)
    rows.media(closed_only, 7)

    # Import jobs in every status; error counts whose platform sum overflows 32 bits.
    jobs = [
        (
            both,
            [
                ("completed", 0),
                ("completed_with_errors", 3),
                ("failed", 2_000_000_000),
                ("pending", 0),
                ("processing", 0),
            ],
        ),
        (half, [("failed", 2_000_000_000), ("failed", 1)]),
        (hidden, [("completed", 0)]),
        (closed_only, [("failed", 4)]),
        (plain, [("pending", 0)]),
    ]
    first_job: dict[int, Entity] = {}
    for vendor, statuses in jobs:
        for status, errors in statuses:
            extra: dict[str, Any] = {}
            if status != "pending":
                extra = {"source_url": "https://feed.example/x.csv", "language": "de", "started_at": rows.ago(days=4)}
            if status.startswith(("completed", "failed")):
                extra["completed_at"] = rows.ago(days=3)
            job = rows.job(vendor, status, errors=errors, imported=5 if status.startswith("completed") else 0, **extra)
            first_job.setdefault(vendor["id"], job)

    # Staging products: referenced by a product (of the same or another vendor) or not.
    referenced_own = rows.staged(
        both,
        import_job_id=first_job[both["id"]]["id"],
        gtin="4000000000017",
        sku="S-1",
        brand="Acme",
        price_cents=1999,
        currency="EUR",
    )
    rows.staged(both)  # every nullable column NULL, not referenced
    referenced_by_plain = rows.staged(both, sku="S-3")
    rows.staged(half)
    rows.staged(hidden)
    rows.staged(closed_only)

    # Products and stock: availability is the per-bin max(0, quantity − reserved) summed per product.
    def product(vendor: Entity, bins: list[tuple[int, int]], **extra: Any) -> None:
        item = rows.product(vendor, **extra)
        for n, (quantity, reserved) in enumerate(bins):
            rows.stock(item, quantity, reserved, warehouse=f"W{n}")

    product(
        both, [(10, 2)], featured=True, staged=referenced_own, vendor_sku="B-1", gtin="4000000000017", price_cents=1999
    )
    product(both, [])  # active, no inventory rows: out of stock
    product(both, [], active=False, featured=True)  # inactive: neither out of stock nor featured
    product(both, [(3, 8)])  # reserved above quantity: 0 available, out of stock
    product(both, [(3, 0)])  # low
    product(both, [(5, 0)])  # exactly the threshold: low
    product(both, [(6, 0)])  # one above: not low
    product(half, [(INT32_MAX, 0), (INT32_MAX, 1)], price_cents=INT32_MAX)  # sums overflow 32 bits
    product(hidden, [(1, 0)])
    product(plain, [(2, 10), (4, 1)], staged=referenced_by_plain)  # 0 + 3 available: low
    product(plain, [(0, 0)], featured=True)
    product(closed_only, [(9, 9)])

    # Orders: every status, two currencies, window edges, amounts past 32 bits, NULL optional columns.
    customer = rows.tables["customers"][0]
    rows.order(
        both,
        1999,
        status="delivered",
        created_at=start,
        customer_id=customer["id"],
        subtotal_cents=1700,
        tax_amount_cents=299,
        shipping_amount_cents=0,
        discount_amount_cents=0,
    )
    rows.order(both, 1, status="shipped", created_at=now)
    rows.order(both, 3_000_000_000, status="pending", created_at=start - second)
    rows.order(both, 1005, status="delivered", currency="USD", created_at=now + second)
    rows.order(both, 1000, status="processing", currency="USD")
    rows.order(both, 500, status="cancelled", created_at=now)
    rows.order(both, 700, status="refunded", currency="USD")
    rows.order(half, 2**31 + 1, status="delivered", currency="USD", created_at=now - second)
    rows.order(half, 2**31, status="shipped", currency="USD")
    rows.order(hidden, 123_456, status="delivered")
    rows.order(plain, 900, status="cancelled", created_at=start)
    rows.order(plain, 800, status="refunded", currency="USD")
    rows.order(closed_only, 4242, status="delivered")
    return World(main, market, closed, both, half, hidden, closed_only, empty, plain)
