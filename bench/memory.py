"""`python -m bench.memory`: where the exporter's peak resident memory goes, measured in one process.

The process below is the exporter, built and started as `serve` starts it (`Exporter.start()`: the
scheduler with `collection.concurrency` threads runs every provider once, right away), without the
HTTP server. It prints, from /proc/self/status:

1. the base (imports, before any run) and, after the first full round, `VmHWM` (peak) and `VmRSS`;
2. what the store holds after the round: distinct bytes objects of the plain text and of the deflated
   pieces, over every snapshot and the combined view per format (shared objects counted once);
3. `VmRSS` after `gc.collect()` and after glibc's `malloc_trim(0)`: the memory freed but kept by
   the allocator, which trim hands back;
4. a second round through the scheduler (old snapshots still served): its peak, the RSS after it,
   and after `malloc_trim(0)`;
5. one directory read (what the runner keeps of it), as tracemalloc counts it;
6. each provider run again on its own (a third round, old snapshots still held, as in a steady
   state): the peak above the resident set before it (`VmHWM` reset through /proc/self/clear_refs,
   the heap trimmed before each run), and with `--tracemalloc` the Python allocations' peak too.

Linux and glibc only. Usage: `python -m bench.memory --database scale_xl [--shard 1/4] [--concurrency 1]`.
Run `MALLOC_ARENA_MAX=2 python -m bench.memory …` to see the effect of fewer malloc arenas.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.datasets import DEFAULT_POSTGRES_ADMIN, POSTGRES_ADMIN_ENV
from exporter.app import Exporter
from exporter.config import parse_config
from exporter.directory import load_directory
from exporter.exposition import Encoded, Format
from exporter.store import SnapshotStore

MIB = 2**20


def status() -> dict[str, int]:
    """VmHWM and VmRSS of this process, in bytes."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def reset_peak() -> bool:
    """Reset VmHWM to the current resident set (Linux ≥ 4.0); False when the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


_LIBC: Any = None


def trim() -> bool:
    """glibc `malloc_trim(0)`: hand freed heap memory back to the kernel; False without glibc."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:
            return False
    return bool(_LIBC.malloc_trim(0))


def pymalloc() -> dict[str, int]:
    """CPython's small-object allocator (`sys._debugmallocstats`): arenas, blocks in use, free blocks."""
    wanted = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_highwater",
        "# bytes in allocated blocks": "allocated",
        "# bytes in available blocks": "available",
    }
    values: dict[str, int] = {}
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        lines = capture.read().decode(errors="replace").splitlines()
    for line in lines:
        key, _, rest = line.partition("=")
        if key.strip() in wanted and wanted[key.strip()] not in values:
            values[wanted[key.strip()]] = int(rest.strip().replace(",", ""))
        elif "bytes/arena" in key:
            values["arena_size"] = int(key.split("*")[1].split()[0])
        elif "unused pools *" in key:
            values["unused_pools"] = int(rest.strip().replace(",", ""))
    return values


def held_bytes(store: SnapshotStore) -> dict[str, int]:
    """Distinct bytes objects the store keeps: plain text and deflated pieces, counted once each."""
    plain: dict[int, int] = {}
    deflated: dict[int, int] = {}
    encodings: list[Encoded] = []
    for snapshot in store._snapshots.values():
        encodings += snapshot.prepared.formats.values()
    view = store._view
    if view is not None:
        encodings += view.values()
    for encoded in encodings:
        for piece in encoded.plain:
            plain[id(piece)] = len(piece)
        for piece in encoded.deflated:
            deflated[id(piece)] = len(piece)
    text_body = view[Format.TEXT].length if view is not None else 0
    return {
        "plain": sum(plain.values()),
        "plain_objects": len(plain),
        "deflated": sum(deflated.values()),
        "deflated_objects": len(deflated),
        "text_body": text_body,
    }


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="PostgreSQL database on the bench server (scale_xl)")
    parser.add_argument("--shard", default="0/1", help="collection.shard, e.g. 1/4 (default 0/1: unsharded)")
    parser.add_argument("--concurrency", type=int, default=2, help="collection.concurrency (default 2)")
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python allocations' peak per provider")
    parser.add_argument("--no-providers", action="store_true", help="skip the per-provider second round")
    args = parser.parse_args(argv)

    admin = os.environ.get(POSTGRES_ADMIN_ENV, DEFAULT_POSTGRES_ADMIN)
    url = make_url(admin).set(database=args.database).render_as_string(hide_password=False)
    config = parse_config(
        {
            "database": {"url": url, "statement_timeout": "10m"},
            "collection": {"interval": "1h", "shard": args.shard, "concurrency": args.concurrency},
        },
        env={},
    )
    print(
        f"database {args.database}, shard {args.shard}, concurrency {args.concurrency}, "
        f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}, load before {_load()}",
        flush=True,
    )
    gc.collect()
    base = status()
    print(f"base (imports, nothing run): RSS {_mib(base['VmRSS'])}, HWM {_mib(base['VmHWM'])}", flush=True)

    exporter = Exporter(lambda: config)
    started = time.perf_counter()
    exporter.start()
    try:
        while not exporter.ready():
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        # A run publishes just before it counts as completed; let the last one return.
        time.sleep(0.5)
        after = status()
        runtime = exporter.runtime
        assert runtime is not None
        series = sum(exporter.store.series(p.name) for p in runtime.providers)
        held = held_bytes(exporter.store)
        print(f"first round: {elapsed:.1f} s, {series:,} series, load after {_load()}", flush=True)
        print(
            f"  peak (VmHWM) {_mib(after['VmHWM'])}; RSS after the round {_mib(after['VmRSS'])}; "
            f"peak − steady {_mib(after['VmHWM'] - after['VmRSS'])}",
            flush=True,
        )
        print(
            f"  store holds: plain {_mib(held['plain'])} ({held['plain_objects']:,} bytes objects; text body "
            f"{_mib(held['text_body'])}), deflated {_mib(held['deflated'])} ({held['deflated_objects']:,} objects)"
            f" = {(held['plain'] + held['deflated']) / max(series, 1):.1f} B/series",
            flush=True,
        )
        gc.collect()
        collected = status()
        trimmed = trim()
        after_trim = status()
        print(
            f"  after gc.collect(): RSS {_mib(collected['VmRSS'])}; after malloc_trim(0) "
            f"({'released' if trimmed else 'nothing released'}): RSS {_mib(after_trim['VmRSS'])} "
            f"→ freed but retained {_mib(collected['VmRSS'] - after_trim['VmRSS'])}",
            flush=True,
        )
        small = pymalloc()
        arena_bytes = small.get("arenas", 0) * small.get("arena_size", 0)
        print(
            f"  pymalloc (objects ≤ 512 B): {small.get('arenas', 0):,} arenas = {_mib(arena_bytes)} "
            f"(high-water {small.get('arenas_highwater', 0):,}), in use {_mib(small.get('allocated', 0))}, "
            f"free blocks in used pools {_mib(small.get('available', 0))}, "
            f"unused pools {_mib(small.get('unused_pools', 0))}",
            flush=True,
        )
        rest = after_trim["VmRSS"] - base["VmRSS"] - held["plain"] - held["deflated"]
        print(
            f"  RSS after trim − base − held bytes = {_mib(rest)} ({rest / max(series, 1):.1f} B/series): "
            "live objects other than the exposition (directory, caches) and pymalloc arenas kept partly used",
            flush=True,
        )
        # The steady state: every provider again through the scheduler, old snapshots still served.
        reset_peak()
        second = status()
        published = {name: snapshot.published_at for name, snapshot in exporter.store._snapshots.items()}
        scheduler = exporter.scheduler
        assert scheduler is not None
        started = time.perf_counter()
        for provider in runtime.providers:
            scheduler.run_soon(provider.name)
        while any(exporter.store._snapshots[p.name].published_at <= published[p.name] for p in runtime.providers):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        time.sleep(0.5)
        again = status()
        gc.collect()
        trim()
        again_trimmed = status()
        print(
            f"second round through the scheduler: {elapsed:.1f} s, load after {_load()}\n"
            f"  peak (VmHWM, reset before it) {_mib(again['VmHWM'])} = +{_mib(again['VmHWM'] - second['VmRSS'])} "
            f"above RSS {_mib(second['VmRSS'])}; RSS after {_mib(again['VmRSS'])}, after gc and malloc_trim(0) "
            f"{_mib(again_trimmed['VmRSS'])} → freed but retained {_mib(again['VmRSS'] - again_trimmed['VmRSS'])}",
            flush=True,
        )
        # One directory as the runner keeps it (it holds the last read, and the info metrics' one).
        with runtime.database.session() as db:
            tracemalloc.start()
            directory = load_directory(db)
            size = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        small = pymalloc()
        print(
            f"  pymalloc after it: {small.get('arenas', 0):,} arenas "
            f"= {_mib(small.get('arenas', 0) * small.get('arena_size', 0))}, in use {_mib(small.get('allocated', 0))}, "
            f"free blocks in used pools {_mib(small.get('available', 0))}",
            flush=True,
        )
        print(f"one directory read, kept: {_mib(size)} of Python allocations (tracemalloc)", flush=True)
        del directory
        if args.no_providers:
            return 0
        if not reset_peak():
            print("  /proc/self/clear_refs refused: no per-provider peaks", flush=True)
            return 0
        print("second round, one provider at a time (old snapshots held; heap trimmed before each):", flush=True)
        for provider in runtime.providers:
            gc.collect()
            trim()
            before = status()
            reset_peak()
            if args.tracemalloc:
                tracemalloc.start()
            started = time.perf_counter()
            result = runtime.runner.run(provider)
            seconds = time.perf_counter() - started
            traced = ""
            if args.tracemalloc:
                traced = f", tracemalloc peak {_mib(tracemalloc.get_traced_memory()[1])}"
                tracemalloc.stop()
            now = status()
            print(
                f"  {provider.name:<24} {result.series:>10,} series {seconds:6.1f} s: peak +"
                f"{_mib(now['VmHWM'] - before['VmRSS'])} above RSS {_mib(before['VmRSS'])}, RSS after "
                f"{_mib(now['VmRSS'])}{traced}",
                flush=True,
            )
        print(f"load after {_load()}", flush=True)
    finally:
        exporter.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
