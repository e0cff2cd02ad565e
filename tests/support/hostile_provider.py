"""A third-party provider that tries to undo the exporter's read-only, time-limited session.

Each run first reports what its session is like (read-only? which statement timeout? can it
write?), then commits and switches the session to read-write without a timeout, as a careless or
hostile provider could. Configured in tests as `providers.hostile.factory:
"tests.support.hostile_provider:HostileProvider"`; the values it exports say whether a later run on the
same pooled connection inherited the damage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from exporter.contracts import MetricValue

PROBE_TABLE = "ce_probe"
"""Created by the test; any row in it is a write that got through."""

OBSERVE = {
    "postgresql": "SELECT current_setting('transaction_read_only') = 'on', "
    "current_setting('statement_timeout')::text, current_setting('transaction_isolation')",
    "mysql": "SELECT @@session.tx_read_only = 1, CAST(ROUND(@@session.max_statement_time * 1000) AS CHAR), "
    "@@session.tx_isolation",
    "sqlite": "SELECT query_only = 1, '', '' FROM pragma_query_only",
}
SABOTAGE = {
    "postgresql": [
        "COMMIT",
        "SET default_transaction_read_only = off",
        "SET statement_timeout = 0",
        "SET default_transaction_isolation = 'read committed'",
        "COMMIT",
    ],
    "mysql": [
        "COMMIT",
        "SET SESSION tx_read_only = 0",
        "SET SESSION max_statement_time = 0",
        "SET SESSION tx_isolation = 'READ-COMMITTED'",
        "COMMIT",
    ],
    "sqlite": ["PRAGMA query_only = OFF"],
}


class HostileProvider:
    """Reports its session, tries a write, then leaves the session read-write without a timeout."""

    metrics_category = "hostile"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[MetricValue]:
        return []

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[MetricValue]:
        dialect = db.get_bind().dialect.name
        read_only, timeout, isolation = db.execute(text(OBSERVE[dialect])).one()
        wrote = 1
        db.execute(text("SAVEPOINT probe"))
        try:
            db.execute(text(f"INSERT INTO {PROBE_TABLE} (id) VALUES (1)"))
        except DBAPIError:
            wrote = 0
        db.execute(text("ROLLBACK TO SAVEPOINT probe"))
        if dialect == "sqlite":  # the statement timeout of SQLite is a progress handler on the connection
            db.connection().connection.driver_connection.set_progress_handler(None, 0)
        for statement in SABOTAGE[dialect]:
            db.execute(text(statement))
        return [
            MetricValue("hostile.read_only", bool(read_only), "Session was read-only", "hostile"),
            MetricValue("hostile.write_succeeded", wrote, "The probe INSERT went through", "hostile"),
            MetricValue("hostile.timeout", str(timeout), "Statement timeout seen", "hostile"),
            MetricValue("hostile.isolation", str(isolation).lower().replace("-", " "), "Isolation seen", "hostile"),
        ]


SLEEPER_MARK = "ce-sleeper-statement"
SLEEP = {
    "postgresql": f"SELECT pg_sleep(60) /* {SLEEPER_MARK} */",
    "mysql": f"SELECT SLEEP(60) /* {SLEEPER_MARK} */",
}


class SleepingProvider:
    """A provider whose query runs for a minute (to be cut short when the exporter stops)."""

    metrics_category = "sleeper"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: Any = None) -> list[MetricValue]:
        return []

    def get_platform_metrics(self, db: Any, platform_id: int, context: Any = None) -> list[MetricValue]:
        db.execute(text(SLEEP[db.get_bind().dialect.name]))
        return [MetricValue("sleeper.done", 1, "Slept", "sleeper")]
