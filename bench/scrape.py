"""/metrics latency of the real server (a `commerce-exporter serve` subprocess) under 4 concurrent clients."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import aiohttp
import yaml

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Latency:
    """Milliseconds per complete response (headers to last body byte) and the body size in bytes."""

    p50: float
    p99: float
    max: float
    requests: int
    body_bytes: int
    first_byte_p50: float
    first_byte_p99: float
    """Until the response headers arrived: the server's share, before the body transfer."""


@dataclass(frozen=True)
class ScrapeFigures:
    """What the served exporter looked like: latencies, series, memory and start-up collection."""

    plain: Latency
    gzip: Latency
    series: int
    exported_series: int
    peak_rss_bytes: int
    rss_bytes: int
    ready_seconds: float


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in bytes (Linux /proc)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the exporter exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the exporter was not ready after {timeout:.0f}s")


@contextmanager
def served(
    database_url: str, workdir: Path, ready_timeout: float, shard: str = "0/1"
) -> Iterator[tuple[str, int, float]]:
    """`python -m exporter serve` on a free port (as `shard`); yields (base URL, pid, seconds until ready)."""
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"exporter-{port}.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": database_url, "statement_timeout": "10m"},
                "server": {"listen": f"127.0.0.1:{port}"},
                # One collection at start-up; none while latencies are measured.
                "collection": {"interval": "1h", "shard": shard},
            }
        )
    )
    log = (workdir / f"exporter-{port}.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, ready_timeout)
        yield url, process.pid, time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def _clients(
    url: str, headers: dict[str, str], clients: int, requests: int
) -> tuple[list[float], list[float], int]:
    timings: list[float] = []
    first_bytes: list[float] = []
    size = 0
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:

        async def client() -> None:
            nonlocal size
            for _ in range(requests):
                started = time.perf_counter()
                async with session.get(f"{url}/metrics", headers=headers) as response:
                    first_bytes.append(time.perf_counter() - started)
                    response.raise_for_status()
                    # Count and drop the chunks: buffering and joining a large body in this (Python) client
                    # would cost more than the server's whole response and be measured as its latency.
                    received = 0
                    async for chunk in response.content.iter_any():
                        received += len(chunk)
                timings.append(time.perf_counter() - started)
                size = received

        # One request first so every client starts on an open connection.
        async with session.get(f"{url}/metrics", headers=headers) as response:
            await response.read()
        await asyncio.gather(*(client() for _ in range(clients)))
    return timings, first_bytes, size


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure(url: str, headers: dict[str, str], clients: int, requests: int) -> Latency:
    """`clients` concurrent keep-alive clients, `requests` each; latency percentiles in ms."""
    timings, first_bytes, size = asyncio.run(_clients(url, headers, clients, requests))
    ms = [t * 1000 for t in timings]
    first_ms = [t * 1000 for t in first_bytes]
    return Latency(
        p50=median(ms),
        p99=_percentile(ms, 0.99),
        max=max(ms),
        requests=len(ms),
        body_bytes=size,
        first_byte_p50=median(first_ms),
        first_byte_p99=_percentile(first_ms, 0.99),
    )


def _count_series(url: str) -> tuple[int, int]:
    """(all sample lines, lines of the platform/vendor families) of a plain scrape, checked against gzip.

    The gzip body must decompress (checksum and length verified) to the same exported series.
    """
    counts = []
    for headers in (PLAIN, GZIP):
        request = urllib.request.Request(f"{url}/metrics", headers=headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
        samples = [line for line in body.split(b"\n") if line and not line.startswith(b"#")]
        exported = [line for line in samples if not line.startswith((b"commerce_exporter_", b"process_"))]
        counts.append((len(samples), exported))
    (total, plain), (_, zipped) = counts
    if plain != zipped:
        raise RuntimeError("the gzip scrape does not carry the same series as the plain one")
    return total, len(plain)


def measure_scrapes(
    database_url: str, workdir: Path, *, clients: int, requests: int, ready_timeout: float, shard: str = "0/1"
) -> ScrapeFigures:
    """Start the server, wait for its first collection, measure plain and gzip, read its memory."""
    with served(database_url, workdir, ready_timeout, shard) as (url, pid, ready):
        series, exported = _count_series(url)
        plain = measure(url, PLAIN, clients, requests)
        gzip = measure(url, GZIP, clients, requests)
        memory = _status(pid)
    return ScrapeFigures(
        plain=plain,
        gzip=gzip,
        series=series,
        exported_series=exported,
        peak_rss_bytes=memory.get("VmHWM", 0),
        rss_bytes=memory.get("VmRSS", 0),
        ready_seconds=ready,
    )
