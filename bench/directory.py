"""`python -m bench.directory --url URL`: what reading the directory costs at the start of every provider run.

Prints the median time of `load_directory` (platforms; links with each vendor's code, name, flags
and owning company; module switches) next to the bare links statement (platform, vendor id, code,
name: what the directory read before it carried the merchant), on the same session, alternating.
Fill a database first, e.g. `commerce-exporter demo-db --url URL --vendors 10000 --orders 20000`.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from statistics import median

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from exporter.directory import Directory, load_directory
from exporter.schema import reference_tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of a database in the reference naming")
    parser.add_argument("--repeat", type=int, default=40, help="timings of each (default 40); medians are printed")
    args = parser.parse_args(argv)
    t = reference_tables()
    links, vendors = t.vendor_platforms, t.vendors
    bare = (
        select(links.c.platform_id, vendors.c.id, vendors.c.vendor_code, vendors.c.name)
        .join(vendors, vendors.c.id == links.c.vendor_id)
        .where(links.c.is_active.is_(True))
    )
    engine = create_engine(args.url)
    directory_times, bare_times = [], []
    gc.disable()  # as during a provider run (exporter.collector pauses the collector's garbage collection)
    with Session(engine) as db:
        directory: Directory | None = load_directory(db)
        for _ in range(args.repeat):
            started = time.perf_counter()
            directory = load_directory(db, directory)
            directory_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            rows = db.execute(bare).all()
            bare_times.append(time.perf_counter() - started)
    gc.enable()
    engine.dispose()
    assert directory is not None
    print(f"{engine.dialect.name}: {len(directory.vendors):,} linked vendors, {len(rows):,} active links")
    print(f"  load_directory (3 statements, merchant and flags included): {median(directory_times) * 1000:7.1f} ms")
    print(f"  bare links statement (code and name only), fetched:         {median(bare_times) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
