"""Soak: the exporter runs fast cycles for a while on a private PostgreSQL cluster while faults are
injected (cuts, killed backends, latency, a frozen network, restarts); RSS, runs and connections are
sampled. Used by tests/e2e/test_soak.py (short) and on its own for the long figure:

    .venv/bin/python -m tests.support.soak --seconds 600

Prints one line per sample and a summary; exits 1 if a bound was broken.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.faultkit import client_connections, drop, fault_config, populate, scrape
from tests.support.pgcluster import PgCluster
from tests.support.processes import ExporterProcess
from tests.support.tcpproxy import TcpProxy

POOL_SIZE = 3


@dataclass
class Sample:
    seconds: float
    rss_mib: float
    runs: int
    failures: int
    client_connections: int
    server_sessions: int


@dataclass
class SoakResult:
    samples: list[Sample] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    scrapes: int = 0
    scrape_errors: int = 0
    peak_client_connections: int = 0
    sessions_before_stop: int = -1
    sessions_after_stop: int = -1
    exit_code: int | None = None
    stop_seconds: float = 0.0

    @property
    def cycles(self) -> int:
        return self.samples[-1].runs if self.samples else 0

    def growth_mib(self, warmup: float) -> float:
        """RSS at the end minus RSS at the first sample after `warmup` seconds."""
        after = [s for s in self.samples if s.seconds >= warmup] or self.samples
        return after[-1].rss_mib - after[0].rss_mib

    def summary(self, warmup: float) -> str:
        after = [s for s in self.samples if s.seconds >= warmup] or self.samples
        return (
            f"cycles (provider runs): {self.cycles}; failed runs: {self.samples[-1].failures}; "
            f"faults injected: {sum(self.faults.values())} ({dict(self.faults)}); scrapes: {self.scrapes} "
            f"({self.scrape_errors} failed)\n"
            f"RSS: {self.samples[0].rss_mib:.1f} MiB at {self.samples[0].seconds:.0f}s, "
            f"{after[0].rss_mib:.1f} MiB after warm-up ({after[0].seconds:.0f}s), "
            f"{self.samples[-1].rss_mib:.1f} MiB at the end ({self.samples[-1].seconds:.0f}s), "
            f"max {max(s.rss_mib for s in self.samples):.1f} MiB; "
            f"growth after warm-up {self.growth_mib(warmup):+.1f} MiB\n"
            f"connections held by the exporter: peak {self.peak_client_connections} (pool_size {POOL_SIZE}); "
            f"server sessions before stop: {self.sessions_before_stop}, after stop: {self.sessions_after_stop}; "
            f"SIGTERM → exit {self.exit_code} in {self.stop_seconds:.1f}s"
        )


def _faults(
    cluster: PgCluster, proxy: TcpProxy, result: SoakResult, stop: threading.Event, every: float, restart_every: float
) -> None:
    """Inject one random fault every `every` seconds (a restart at most every `restart_every` seconds)."""
    rng = random.Random(5)
    last_restart = time.monotonic()
    while not stop.wait(every):
        kind = rng.choice(["cut", "terminate", "latency", "freeze", "restart"])
        if kind == "restart" and time.monotonic() - last_restart < restart_every:
            kind = "cut"
        if kind == "cut":
            proxy.cut()
        elif kind == "terminate":
            cluster.terminate()
        elif kind == "latency":
            proxy.latency = 1.5
            stop.wait(2.0)
            proxy.latency = 0.0
        elif kind == "freeze":
            proxy.freeze()
            stop.wait(2.5)
            proxy.thaw()
        else:
            cluster.stop("immediate" if rng.random() < 0.5 else "fast")
            cluster.start()
            last_restart = time.monotonic()
        result.faults[kind] += 1


def run_soak(
    cluster: PgCluster,
    workdir: Path,
    *,
    seconds: float,
    interval: str = "100ms",
    fault_every: float = 2.0,
    restart_every: float = 30.0,
    sample_every: float = 5.0,
    report: Callable[[Sample], None] | None = None,
) -> SoakResult:
    """Run the exporter for `seconds` under faults; sample RSS, runs and connections."""
    platform = populate(cluster)
    proxy = TcpProxy(("127.0.0.1", cluster.port))
    config = fault_config(
        cluster.url(platform.database, port=proxy.port),
        pool_size=POOL_SIZE,
        interval=interval,
        stale_after="10s",
    )
    config["providers"] = {}  # all seven providers
    exporter = ExporterProcess(workdir, config=config)
    result = SoakResult()
    stop = threading.Event()
    try:
        exporter.wait_healthy()
        injector = threading.Thread(
            target=_faults, args=(cluster, proxy, result, stop, fault_every, restart_every), daemon=True
        )

        def scraper() -> None:
            while not stop.wait(0.1):
                try:
                    scrape(exporter.url)
                    result.scrapes += 1
                except OSError:
                    result.scrape_errors += 1

        scraping = threading.Thread(target=scraper, daemon=True)
        began = time.monotonic()
        injector.start()
        scraping.start()
        next_sample = began
        while time.monotonic() - began < seconds:
            result.peak_client_connections = max(
                result.peak_client_connections, client_connections(exporter.process.pid, proxy.port)
            )
            if time.monotonic() >= next_sample:
                exposition = scrape(exporter.url, timeout=10)
                runs = sum(
                    v for (n, _), v in exposition.samples.items() if n == "commerce_exporter_provider_runs_total"
                )
                failures = sum(
                    v for (n, _), v in exposition.samples.items() if n == "commerce_exporter_provider_failures_total"
                )
                try:
                    sessions = cluster.sessions()
                except Exception:  # the cluster is restarting right now
                    sessions = -1
                sample = Sample(
                    time.monotonic() - began,
                    (exposition.value("process_resident_memory_bytes") or 0) / 2**20,
                    int(runs),
                    int(failures),
                    client_connections(exporter.process.pid, proxy.port),
                    sessions,
                )
                result.samples.append(sample)
                if report is not None:
                    report(sample)
                next_sample += sample_every
            time.sleep(0.05)
        stop.set()
        injector.join(10)
        scraping.join(10)
        proxy.thaw()
        proxy.latency = 0.0
        cluster.start()
        time.sleep(1.0)
        result.sessions_before_stop = cluster.sessions()
        stopped = time.monotonic()
        exporter.process.send_signal(signal.SIGTERM)
        result.exit_code = exporter.process.wait(30)
        result.stop_seconds = time.monotonic() - stopped
        deadline = time.monotonic() + 10
        while cluster.sessions() and time.monotonic() < deadline:
            time.sleep(0.1)
        result.sessions_after_stop = cluster.sessions()
    finally:
        stop.set()
        exporter.stop()
        proxy.close()
        drop(cluster, platform.database)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--interval", default="100ms", help="provider interval (each of the seven providers)")
    parser.add_argument("--fault-every", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args(argv)
    cluster = PgCluster()
    try:
        print(f"{'t (s)':>7} {'RSS MiB':>8} {'runs':>8} {'failed':>7} {'client conns':>12} {'server sessions':>15}")
        result = run_soak(
            cluster,
            Path(tempfile.mkdtemp(prefix="ce-soak-")),
            seconds=args.seconds,
            interval=args.interval,
            fault_every=args.fault_every,
            report=lambda s: print(
                f"{s.seconds:7.0f} {s.rss_mib:8.1f} {s.runs:8d} {s.failures:7d} {s.client_connections:12d} "
                f"{s.server_sessions:15d}",
                flush=True,
            ),
        )
    finally:
        cluster.destroy()
    print(result.summary(args.warmup))
    ok = (
        result.peak_client_connections <= POOL_SIZE
        and result.sessions_after_stop == 0
        and result.exit_code == 0
        and result.growth_mib(args.warmup) < 10
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
