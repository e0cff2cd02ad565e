"""A short soak (≈25 s, worth it: it is the only test of many fast cycles under mixed faults): no
connection beyond the pool, no session left after stop, no memory growth. The long run is
`python -m tests.support.soak --seconds 600` (figures in docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pgcluster import PgCluster
from tests.support.soak import POOL_SIZE, run_soak

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


def test_fast_cycles_under_faults_hold_connections_and_memory_flat(pg_cluster: PgCluster, tmp_path: Path) -> None:
    """Hundreds of runs with a fault every second: connections ≤ pool_size, 0 sessions after stop, RSS flat."""
    pg_cluster.start()
    result = run_soak(pg_cluster, tmp_path, seconds=25, fault_every=1.0, restart_every=8.0, sample_every=2.5)
    print(result.summary(warmup=10))
    assert result.cycles >= 300
    assert sum(result.faults.values()) >= 10 and result.faults["restart"] >= 1
    assert result.peak_client_connections <= POOL_SIZE
    assert 0 <= result.sessions_before_stop <= POOL_SIZE
    assert result.sessions_after_stop == 0
    assert result.exit_code == 0 and result.stop_seconds < 8
    assert result.scrape_errors == 0
    # Python's allocator keeps freed arenas, so "flat" allows a few MiB of noise, not a trend.
    assert result.growth_mib(warmup=10) < 5, result.summary(warmup=10)
