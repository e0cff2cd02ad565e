"""Shard ranges: equal vendor counts, cuts that stay put while a few vendors join, a partition of the ids."""

from __future__ import annotations

from itertools import pairwise

from exporter.directory import SHARD_STEPS, shard_cuts


def test_cuts_split_vendor_counts_evenly_and_stay_put_when_a_few_vendors_join() -> None:
    """Equal counts up to the rounding grid; 50 new vendors at the top of 100,000 move no cut."""
    ids = list(range(1, 100_001, 1)) + list(range(200_000, 300_000, 2))  # ids need not be dense
    for count in (2, 4, 7):
        cuts = shard_cuts(ids, count)
        assert cuts == sorted(cuts) and len(set(cuts)) == count - 1
        edges = [0, *cuts, ids[-1] + 1]
        sizes = [sum(lo <= i < hi for i in ids) for lo, hi in pairwise(edges)]
        share = len(ids) / count
        assert all(abs(size - share) <= 2 * share / SHARD_STEPS for size in sizes), sizes
        grown = ids + list(range(300_001, 300_101, 2))
        assert shard_cuts(grown, count) == cuts


def test_fewer_vendors_than_shards_still_partition_the_ids() -> None:
    """Two vendors, four shards: strictly increasing cuts, each vendor on exactly one shard."""
    cuts = shard_cuts([10, 11], 4)
    assert len(cuts) == 3 and cuts == sorted(set(cuts))
    assert shard_cuts([], 3) == [1, 2]
