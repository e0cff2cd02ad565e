"""`python -m bench --scale` output: the table's shard sums and the picture drawn from the JSON (no database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.plot import draw
from bench.scale import table


def _point(size: str, vendors: int, shard: str, collect: float, floor: float, rss_mib: float) -> dict[str, Any]:
    return {
        "size": size,
        "backend": "postgresql",
        "shard": shard,
        "data": {"platforms": 5, "vendors": vendors, "orders": vendors * 200},
        "collect_s": collect,
        "sql_floor_s": floor,
        "ratio": collect / floor,
        "directory_s": 0.1,
        "values_s": collect * 0.8,
        "render_s": collect * 0.1,
        "statements": 20,
        "provider_series": vendors * 50,
        "providers": {},
        "scrape": {
            "series": vendors * 51,
            "exported_series": vendors * 50,
            "plain_p50_ms": 10.0,
            "plain_p99_ms": 20.0,
            "plain_bytes": vendors * 6000,
            "gzip_p50_ms": 5.0,
            "gzip_p99_ms": 8.0,
            "gzip_bytes": vendors * 300,
            "requests": 12,
            "peak_rss_bytes": int(rss_mib * 2**20),
            "rss_bytes": int(rss_mib * 2**20),
            "ready_s": 1.0,
        },
        "load_average": {"before": [1.0, 1.0, 1.0], "after": [1.0, 1.0, 1.0]},
    }


def _report() -> dict[str, Any]:
    return {
        "started": "2026-01-01T00:00:00+00:00",
        "machine": {"cpus": 2},
        "points": [
            _point("S", 100, "0/1", 0.05, 0.02, 90),
            _point("M", 1_000, "0/1", 0.3, 0.15, 100),
            _point("XL", 100_000, "0/1", 20.0, 10.0, 900),
        ],
        "shards": [
            _point("XL", 100_000, "0/2", 12.0, 9.0, 500),
            _point("XL", 100_000, "1/2", 6.0, 3.0, 450),
        ],
    }


def test_table_sums_the_shards_against_the_unsharded_run() -> None:
    """Two shards with floors 9 s and 3 s against an unsharded 10 s: 1.20× the database work."""
    text = table(_report())
    assert "2 shards together: database (floor) 12.00 s = 1.20× the unsharded floor" in text
    assert "collection 18.00 s = 0.90× the unsharded collection" in text
    assert "shard 1/2: floor 0.30× and collection 0.30×" in text
    assert text.count("\nXL ") == 3


def test_the_picture_is_drawn_from_the_json(tmp_path: Path) -> None:
    out = tmp_path / "curve.png"
    draw(_report(), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
