"""`python -m bench.micro yaml|rows|crc|bcrypt`: small measurements behind choices in the code, in seconds each.

- `yaml`: `exporter.yamlload.load_yaml` on a file of the largest size read (`MAX_BYTES`), once with
  libyaml's event parser (as shipped) and once in a child process where PyYAML's C extension is
  hidden, as on a PyYAML built without libyaml.
- `rows`: reading every column of the grouped rows of a SQLite statement, as SQLAlchemy `Row`s and
  as the named tuples `providers._sql` makes of them.
- `crc`: the CRC-32 of a combined view of many snapshots (as `SnapshotStore` publishes it), once
  by `zlib.crc32` over every byte and once by `exporter.exposition.crc32_combine` from each
  snapshot's own checksum.
- `bcrypt`: one basic-auth check (`bcrypt.checkpw`) against a hash of cost 10, the cost of
  `htpasswd -B` and of the example in config/web-config-basic-auth.yml.

The figures and what they decided are in docs/architecture.md, "Figures behind choices in the code".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text


def _best(action: Callable[[], object], repeat: int) -> float:
    """Shortest of `repeat` timings: the figure least disturbed by other work on the machine."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def _largest_config() -> str:
    """A configuration file just under `MAX_BYTES`: provider sections, as a config holds them."""
    from exporter.yamlload import MAX_BYTES

    parts: list[str] = []
    size = 0
    while size < MAX_BYTES - 200:
        part = (
            f"provider_{len(parts)}:\n  interval: 1m\n  enabled: true\n"
            f"  keys: [orders.total, orders.new]\n  settings: {{limit: {len(parts)}, mode: text}}\n"
        )
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _yaml_once(repeat: int) -> float:
    from exporter.yamlload import load_yaml

    document = _largest_config()
    return _best(lambda: load_yaml(document), repeat)


def yaml_figures(repeat: int) -> None:
    """libyaml events vs. pure-Python events for the largest file read."""
    shipped = _yaml_once(repeat)
    child = subprocess.run(
        [sys.executable, "-m", "bench.micro", "_yaml-pure", "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    pure = float(child.stdout)
    size = len(_largest_config().encode()) / 1024
    print(f"load_yaml, {size:.0f} KiB, best of {repeat}: libyaml events {shipped:.3f} s, pure-Python {pure:.3f} s")
    print(f"pure-Python / libyaml: {pure / shipped:.1f}×")


def rows_figures(repeat: int, rows: int) -> None:
    """Attribute reads of SQLAlchemy rows vs. the named tuples of `providers._sql`."""
    from providers._sql import _record

    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE g (owner INTEGER, status TEXT, currency TEXT, n INTEGER, cents INTEGER)"))
        connection.execute(
            text("INSERT INTO g VALUES (:owner, :status, :currency, :n, :cents)"),
            [{"owner": i, "status": "paid", "currency": "EUR", "n": i % 7, "cents": i * 13} for i in range(rows)],
        )
        result = connection.execute(text("SELECT owner, status, currency, n, cents FROM g"))
        columns = tuple(result.keys())
        fetched: list[Any] = list(result)
        record = _record(columns)
        converted = [record._make(row) for row in fetched]

        def read(items: list[Any]) -> int:
            total = 0
            for _ in range(3):  # providers read each aggregate row several times per run
                for item in items:
                    total += item.owner + item.n + item.cents + len(item.status) + len(item.currency)
            return total

        as_rows = _best(lambda: read(fetched), repeat)
        as_tuples = _best(lambda: read(converted), repeat)
        making = _best(lambda: [record._make(row) for row in fetched], repeat)
    engine.dispose()
    print(f"{rows:,} rows × 5 columns read 3 times, best of {repeat}:")
    print(f"  SQLAlchemy Row {as_rows:.3f} s, named tuple {as_tuples:.3f} s ({as_rows / as_tuples:.1f}× cheaper)")
    print(f"  making the named tuples: {making:.3f} s")


def crc_figures(repeat: int, mib: int, parts: int) -> None:
    """zlib.crc32 over a whole view vs. combining the parts' checksums."""
    import zlib

    from exporter.exposition import crc32_combine

    part = bytes(range(256)) * (mib * 1024 * 1024 // 256 // parts)
    pieces = [part] * parts
    sums = [(zlib.crc32(piece), len(piece)) for piece in pieces]

    def whole() -> int:
        crc = 0
        for piece in pieces:
            crc = zlib.crc32(piece, crc)
        return crc

    def combined() -> int:
        crc = 0
        for piece_crc, length in sums:
            crc = crc32_combine(crc, piece_crc, length)
        return crc

    if whole() != combined():
        raise SystemExit("crc32_combine disagrees with zlib.crc32")
    print(f"CRC-32 of {mib} MiB in {parts} parts, best of {repeat}:")
    print(f"  zlib.crc32 over every byte {_best(whole, repeat) * 1000:.2f} ms")
    print(f"  crc32_combine of the parts' checksums {_best(combined, repeat) * 1000:.3f} ms")


def bcrypt_figures(repeat: int) -> None:
    """One bcrypt check at cost 10, as every uncached basic-auth request pays it."""
    import bcrypt

    hashed = bcrypt.hashpw(b"change-me", bcrypt.gensalt(rounds=10))
    check = _best(lambda: bcrypt.checkpw(b"change-me", hashed), repeat)
    print(f"bcrypt.checkpw at cost 10, best of {repeat}: {check * 1000:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("yaml", "rows", "crc", "bcrypt", "_yaml-pure"))
    parser.add_argument("--repeat", type=int, default=5, help="timings of each; the shortest is printed (default 5)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the `rows` measurement (default 200,000)")
    parser.add_argument("--mib", type=int, default=60, help="size of the view of the `crc` measurement (default 60)")
    parser.add_argument("--parts", type=int, default=8, help="snapshots in that view (default 8: 7 providers, info)")
    args = parser.parse_args(argv)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    if args.what == "yaml":
        yaml_figures(args.repeat)
    elif args.what == "rows":
        rows_figures(args.repeat, args.rows)
    elif args.what == "crc":
        crc_figures(args.repeat, args.mib, args.parts)
    elif args.what == "bcrypt":
        bcrypt_figures(args.repeat)
    else:  # the child of `yaml`: PyYAML as built without libyaml
        sys.modules["yaml.cyaml"] = None  # type: ignore[assignment]
        print(_yaml_once(args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
