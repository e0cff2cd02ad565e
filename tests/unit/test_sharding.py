"""`collection.shard: i/n`: replicas split the vendors by a stable hash; together they export exactly one copy."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest

from tests.support.exporting import Exposition, LabelSet, collect
from tests.support.platform_data import VENDOR_CODES, build_platforms

Series = tuple[str, LabelSet]


def _scoped(exposition: Exposition, prefix: str) -> dict[Series, float]:
    return {key: value for key, value in exposition.samples.items() if key[0].startswith(prefix)}


def _vendor(series: Series) -> str:
    return dict(series[1])["vendor"]


@pytest.fixture
def platform_url(sqlite_url: str) -> str:
    build_platforms(sqlite_url)
    return sqlite_url


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_together_export_every_vendor_series_exactly_once(platform_url: str, count: int) -> None:
    """The union of n shards' vendor series (info included) equals the unsharded run's, with no series twice."""
    whole = _scoped(collect(platform_url), "commerce_vendor_")
    parts = [
        _scoped(collect(platform_url, collection={"shard": f"{i}/{count}"}), "commerce_vendor_") for i in range(count)
    ]

    occurrences = Counter(series for part in parts for series in part)
    assert [series for series, n in occurrences.items() if n > 1] == []
    merged = {series: value for part in parts for series, value in part.items()}
    assert merged == whole
    assert len(whole) > 0


def test_each_vendor_lives_on_the_shard_its_code_hashes_to(platform_url: str) -> None:
    """A vendor's series (every platform, every key) are all on shard crc32(code) mod n, the same on every host."""
    count = 3
    for index in range(count):
        part = _scoped(collect(platform_url, collection={"shard": f"{index}/{count}"}), "commerce_vendor_")
        vendors = {_vendor(series) for series in part}
        expected = {code for code in VENDOR_CODES if zlib.crc32(code.encode()) % count == index}
        # Vendors with no active link to an active platform export nothing on any shard.
        assert vendors <= expected
        assert vendors, f"shard {index}/{count} exports no vendor; choose codes that spread"


def test_platform_values_and_platform_info_only_on_shard_zero(platform_url: str) -> None:
    """Shard 0 exports exactly the unsharded platform-scope series; every other shard exports none."""
    whole = _scoped(collect(platform_url), "commerce_platform_")
    count = 3
    parts = [
        _scoped(collect(platform_url, collection={"shard": f"{i}/{count}"}), "commerce_platform_") for i in range(count)
    ]

    assert parts[0] == whole
    assert ("commerce_platform_info", frozenset({("platform", "main"), ("name", "Main")})) in parts[0]
    assert parts[1] == {} and parts[2] == {}


def test_unsharded_config_is_shard_zero_of_one(platform_url: str) -> None:
    """`0/1` (the default) exports everything: the same samples as no shard setting at all."""
    explicit, default = collect(platform_url, collection={"shard": "0/1"}), collect(platform_url)
    for prefix in ("commerce_vendor_", "commerce_platform_"):
        assert _scoped(explicit, prefix) == _scoped(default, prefix)
