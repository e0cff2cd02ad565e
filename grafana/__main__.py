"""Writes grafana/dashboards/*.json from the dashboard modules (`--check`: fail if the files differ).

The JSON files are what Grafana loads and what users import; generating them keeps them consistent
(one datasource variable everywhere, a unit and a description on every panel, a stable layout). Edit
the modules, run `python -m grafana` from the repository root, commit both. Metric and label names
are the exporter's exposition names; tests/e2e/test_e2e_dashboards.py runs every query against a real
Prometheus scraping the demo exporter.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana import exporter_health, merchant, platform_overview, vendor
from grafana.builders import Dashboard

DIRECTORY = Path(__file__).resolve().parent / "dashboards"

DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "platform-overview.json": platform_overview.build,
    "vendor.json": vendor.build,
    "merchant.json": merchant.build,
    "exporter-health.json": exporter_health.build,
}
"""File name in grafana/dashboards/ → the function that builds it; a file not listed here is left alone."""


def render(board: Dashboard) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs or is missing")
    parser.add_argument(
        "--directory", type=Path, default=DIRECTORY, help="where the JSON files are (default: grafana/dashboards)"
    )
    args = parser.parse_args(argv)
    directory: Path = args.directory
    stale = []
    for name, build in DASHBOARDS.items():
        path = directory / name
        text = render(build())
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"out of date (run python -m grafana): {', '.join(stale)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
