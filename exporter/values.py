"""Which provider values can be exported, and the count of those that cannot (by reason, never silent)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable
from decimal import Decimal

from exporter.contracts import Dropped, DropReason, MetricValue

log = logging.getLogger(__name__)

SCALARS = (bool, int, float, Decimal, str)
"""Types a `MetricValue.value` may have besides None (subclasses included); strings make info series."""


def well_formed_fields(value: MetricValue) -> bool:
    """Types of the fields that name and label a family (the value itself is checked per sample)."""
    return (
        isinstance(value.key, str)
        and bool(value.key.strip())
        and isinstance(value.category, str)
        and isinstance(value.label, str)
        and (value.description is None or isinstance(value.description, str))
        and (value.unit is None or isinstance(value.unit, str))
        and (value.period is None or isinstance(value.period, str))
        and type(value.labels) is tuple
    )


def utf8(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) replaced by "?"."""
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def is_text(text: str) -> bool:
    """Encodable as UTF-8: a lone surrogate is not text, and cannot be a label value."""
    return text.isascii() or utf8(text) == text


_DATA_DETAIL = {
    DropReason.CURRENCY: "revenue orders whose currency is NULL, blank or not a three-letter code",
    DropReason.AMOUNT: "revenue orders whose total is NULL, NaN or infinite",
    DropReason.NEGATIVE_STOCK: "inventory rows with a negative quantity or reservation, counted as 0",
    DropReason.UNKNOWN_VENDOR: "rows whose vendor_id is NULL or names no vendor with an active link",
    DropReason.NOT_NUMERIC: "values that are NULL, not a number, NaN or infinite",
    DropReason.DUPLICATE: "rows repeating a vendor and label values (the query is not grouped by them)",
}


class Drops:
    """Values one provider run left out, by reason; the first drop of each reason is logged."""

    def __init__(self, provider: str, quiet: Collection[DropReason] = ()) -> None:
        self.provider = provider
        self.quiet = frozenset(quiet)
        """Reasons not to log (the caller logged them in an earlier run); they are still counted."""
        self.counts: Counter[DropReason] = Counter()
        self.invalid = 0
        """Values dropped as malformed: a run with any of them is reported as failed."""

    def add(self, reason: DropReason, value: object, detail: str, count: int = 1) -> None:
        """Count `count` values dropped for `reason`; log the first one of the run."""
        first = reason not in self.counts
        self.counts[reason] += count
        if reason is DropReason.INVALID:
            self.invalid += count
        if first and reason not in self.quiet:
            log.warning("provider %s: value dropped (%s): %s: %r", self.provider, reason, detail, value)

    def malformed(self, value: object) -> None:
        """Something that is not a well-formed `MetricValue` (nor a `Dropped` record)."""
        self.add(DropReason.INVALID, value, "not a well-formed MetricValue")

    def rejected(self, reason: DropReason, value: MetricValue) -> None:
        """A value whose signature cannot be exported (see `FamilyBuilder`)."""
        if reason is DropReason.NOT_ALLOWED:
            self.counts[reason] += 1  # configured, not a problem: no log line
        elif reason is DropReason.NAME_COLLISION:
            self.add(reason, value.key, "the family name is already exported for another key or provider")
        else:
            self.malformed(value)

    def by_data(self, dropped: Dropped) -> None:
        """A provider's own count of database values it left out of a value."""
        if type(dropped.reason) is DropReason and type(dropped.count) is int and dropped.count > 0:
            self.add(dropped.reason, dropped.key, _DATA_DETAIL.get(dropped.reason, "left out"), dropped.count)
        else:
            self.add(DropReason.INVALID, dropped, "a Dropped record needs a DropReason and a positive count")

    def unexported(self, values: Iterable[object], reason: DropReason, owner: str) -> None:
        """Count the values of a vendor or platform that has no label, so none of them is exported."""
        count = 0
        for value in values:
            if type(value) is Dropped:
                self.by_data(value)
            else:
                count += 1
        if count:
            self.add(reason, owner, f"{count} value(s) of an owner without a usable code", count)
