"""The gzip trailer's CRC-32 is combined from per-snapshot checksums, never recomputed over the body."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from exporter.exposition import crc32_combine


@given(st.binary(max_size=300), st.binary(max_size=3000))
def test_combined_crc_equals_the_crc_of_the_concatenation(first: bytes, second: bytes) -> None:
    """crc32_combine(crc(A), crc(B), len(B)) is zlib's crc32 of A+B, for any A and B (empty included)."""
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


def test_combined_crc_holds_for_bodies_of_exposition_size() -> None:
    """Lengths far above what examples reach (tens of MiB) combine correctly too."""
    first, second = b"commerce_vendor_orders 1\n" * 3, b"x" * (60 * 2**20 + 7)
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)
