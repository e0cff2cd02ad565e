"""Pictures of the dashboards for docs/dashboards.md, drawn from a real Prometheus (no Grafana server needed).

`python -m grafana.pictures` starts the exporter on the demo database, writes a made-up week of its
business series into a fresh Prometheus (grafana/history.py), lets that Prometheus scrape the exporter
for a minute, then runs every variable and panel query of each dashboard against it the way Grafana
does and draws the panels where the dashboard places them, with matplotlib. It writes
docs/images/<dashboard>.png. The business dashboards show the last 7 days; exporter health the
minute of real scrapes.

The drawing is a likeness, not Grafana: stat cards show their last value and trend, time series
their lines, tables their first rows, bar gauges their bars. Rows repeated per category are drawn
once, for the first category.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana.history import business_series, history

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
JOB = "commerce-exporter"

Json = dict[str, Any]

# Grafana's dark theme, approximately.
BACKGROUND, PANEL, BORDER, TEXT, MUTED = "#111217", "#181b1f", "#2c3235", "#ccccdc", "#8e8e8e"
PALETTE = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#ff780a", "#96d98d", "#ca95e5"]
COLORS = {"green": "#73bf69", "red": "#f2495c", "transparent": "none"}
COLUMN_PX, ROW_PX, DPI = 64, 34, 100

_REFERENCE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.*),\s*)?(?P<label>[a-zA-Z_]\w*)\s*\)\s*$", re.S)
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}")
_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")


# --- Prometheus ----------------------------------------------------------------------------------


class Prometheus:
    """The HTTP API of a Prometheus server, as Grafana's datasource calls it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=60) as response:
            payload = json.load(response)
        if payload.get("status") != "success":
            raise RuntimeError(f"Prometheus API error for {path}: {payload}")
        return payload["data"]


@dataclass(frozen=True)
class TimeRange:
    """A dashboard time range: range queries from `start` to `end` every `step` seconds."""

    start: float
    end: float
    step: float

    @property
    def builtins(self) -> dict[str, str]:
        rate = max(self.step + 15, 60)
        return {
            "__interval": f"{int(self.step)}s",
            "__rate_interval": f"{int(rate)}s",
            "__range": f"{int(self.end - self.start)}s",
        }


# --- variables -----------------------------------------------------------------------------------


@dataclass
class Selection:
    """A resolved variable: the values picked (every value when the variable selects All)."""

    multi: bool
    values: list[str] = field(default_factory=list)


def interpolate(text: str, variables: Mapping[str, Selection], builtins: Mapping[str, str]) -> str:
    """Replaces $variables as Grafana's Prometheus datasource does (a multi value becomes `(a|b)`)."""

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in (match.group(1), match.group(3), match.group(4)) if g)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            return match.group(0)  # `$1` of a label_replace, or unknown: Grafana leaves it
        selection = variables[name]
        if match.group(2) == "text" or not selection.multi:
            return selection.values[0].replace("\\", "\\\\") if selection.values else ""
        escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", value) for value in selection.values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    return _REFERENCE.sub(replace, text)


def _regex(values: Sequence[str], regex: str) -> list[str]:
    if not regex:
        return list(values)
    pattern = re.compile(regex[1:].rpartition("/")[0] if regex.startswith("/") else regex)
    kept = []
    for value in values:
        match = pattern.search(value)
        if match:
            kept.append(match.group(1) if match.groups() else value)
    return kept


def resolve(board: Json, prometheus: Prometheus, window: TimeRange) -> dict[str, Selection]:
    """Every variable of the dashboard: query variables through label_values, custom ones at their default."""
    resolved: dict[str, Selection] = {}
    for spec in board["templating"]["list"]:
        kind, name = spec["type"], spec["name"]
        if kind == "custom":
            resolved[name] = Selection(False, [spec["current"]["value"]])
        elif kind == "query":
            text = interpolate(spec["query"]["query"], resolved, window.builtins)
            match = _LABEL_VALUES.match(text)
            if match is None:
                raise ValueError(f"variable ${name}: {text!r} is not label_values(…)")
            params = {"match[]": match["selector"]} if match["selector"] else {}
            raw = prometheus.api(
                f"label/{match['label']}/values", **params, start=f"{window.start:.0f}", end=f"{window.end:.0f}"
            )
            values = sorted(dict.fromkeys(_regex([str(v) for v in raw], spec.get("regex") or "")))
            multi = bool(spec.get("multi"))
            resolved[name] = Selection(multi, values if multi else values[:1])
    return resolved


# --- formatting ----------------------------------------------------------------------------------


def formatted(value: float, unit: str, decimals: int | None = None) -> str:
    """A value as Grafana would roughly write it for the unit."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "percentunit":
        return f"{value * 100:.{1 if decimals is None else decimals}f}%"
    if unit == "percent":
        return f"{value:.{1 if decimals is None else decimals}f}%"
    if unit.startswith("suffix:"):
        return f"{value:.{1 if decimals is None else decimals}f}{unit.removeprefix('suffix:')}"
    if unit == "bytes":
        for power, name in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
            if abs(value) >= 2**power:
                return f"{value / 2**power:.1f} {name}"
        return f"{value:.0f} B"
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1000:.0f} ms"
        return f"{value:.1f} s" if abs(value) < 120 else f"{value / 60:.1f} min"
    for size, suffix in ((1e9, " Bil"), (1e6, " Mil"), (1e3, " K")):
        if abs(value) >= size:
            return f"{value / size:.{2 if decimals is None else decimals}f}{suffix}"
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def legend(template: str, labels: Mapping[str, str], fallback: str) -> str:
    if template in ("", "__auto"):
        return fallback
    return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)


def _override(panel: Json, ref: str) -> dict[str, Any]:
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"].get("options") == ref:
            return {prop["id"]: prop["value"] for prop in override["properties"]}
    return {}


def _mapped(value: float, mappings: Sequence[Json]) -> tuple[str, str] | None:
    """(text, colour) of a value mapping that applies to `value`, if any."""
    for mapping in mappings:
        if mapping["type"] == "special" and (value is None or math.isnan(value)):
            result = mapping["options"]["result"]
            return result["text"], result["color"]
        if mapping["type"] == "value":
            key = "Infinity" if value == math.inf else "-Infinity" if value == -math.inf else f"{value:g}"
            found = mapping["options"].get(key)
            if found:
                return found["text"], found["color"]
    return None


def _threshold_color(value: float, thresholds: Json | None) -> str | None:
    if not thresholds:
        return None
    color = None
    for step in thresholds["steps"]:
        if step["value"] is None or value >= step["value"]:
            color = step["color"]
    return COLORS.get(color or "", color)


# --- drawing -------------------------------------------------------------------------------------


@dataclass
class Drawn:
    """What one dashboard picture shows: panels drawn, and those whose queries returned nothing."""

    panels: int = 0
    empty: list[str] = field(default_factory=list)


class Picture:
    """Draws one dashboard's panels onto a matplotlib figure laid out like Grafana's 24-column grid."""

    def __init__(self, board: Json, prometheus: Prometheus, window: TimeRange) -> None:
        self.board = board
        self.prometheus = prometheus
        self.window = window
        self.variables = resolve(board, prometheus, window)
        self.drawn = Drawn()

    def _panels(self) -> Iterator[Json]:
        """Panels and row headers in order; a repeated row (and its panels) once, for its first value."""
        yield from self.board["panels"]

    def query(self, expr: str, *, instant: bool) -> list[Json]:
        text = interpolate(expr, self.variables, self.window.builtins)
        if instant:
            return list(self.prometheus.api("query", query=text, time=f"{self.window.end:.3f}")["result"])
        return list(
            self.prometheus.api(
                "query_range",
                query=text,
                start=f"{self.window.start:.0f}",
                end=f"{self.window.end:.0f}",
                step=f"{self.window.step:.0f}",
            )["result"]
        )

    def draw(self, path: Path) -> Drawn:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = list(self._panels())
        bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
        width, height = 24 * COLUMN_PX, (bottom + 2) * ROW_PX
        figure = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
        title = self.board["title"]
        picked = ", ".join(
            f"{name}={','.join(sel.values) if len(sel.values) <= 3 else 'All'}" for name, sel in self.variables.items()
        )
        figure.text(0.01, 1 - 0.6 * ROW_PX / height, title, color=TEXT, fontsize=15, weight="bold", va="center")
        figure.text(0.99, 1 - 0.6 * ROW_PX / height, picked, color=MUTED, fontsize=9, ha="right", va="center")
        for panel in panels:
            grid = panel["gridPos"]
            left, w = grid["x"] / 24, grid["w"] / 24
            top = (grid["y"] + 1.2) * ROW_PX / height
            h = grid["h"] * ROW_PX / height
            box = (left + 0.003, 1 - top - h + 0.003 * width / height, w - 0.006, h - 0.006 * width / height)
            if panel["type"] == "row":
                figure.text(
                    box[0],
                    1 - top - h / 2,
                    interpolate(panel["title"], self.variables, {}),
                    color=TEXT,
                    fontsize=12,
                    weight="bold",
                    va="center",
                )
                continue
            self.drawn.panels += 1
            frame = figure.add_axes(box)
            frame.set_facecolor(PANEL)
            frame.set_xticks([])
            frame.set_yticks([])
            for spine in frame.spines.values():
                spine.set_color(BORDER)
            name = interpolate(panel["title"], self.variables, {})
            title_px = 20
            panel_w, panel_h = box[2] * width, box[3] * height
            frame.text(
                8 / panel_w,
                1 - 11 / panel_h,
                name,
                color=TEXT,
                fontsize=9,
                weight="bold",
                va="center",
                transform=frame.transAxes,
            )
            # Plots get room for their tick labels inside the panel; cards and tables use the whole panel.
            margins = (56, 26, 10) if panel["type"] == "timeseries" else (4, 4, 4)
            if panel["type"] in ("bargauge", "state-timeline"):
                margins = (150, 20, 10)
            left_px, bottom_px, right_px = margins
            inner = (
                box[0] + left_px / width,
                box[1] + bottom_px / height,
                box[2] - (left_px + right_px) / width,
                box[3] - (bottom_px + title_px + 4) / height,
            )
            axes = figure.add_axes(inner)
            axes.set_facecolor("none")
            for spine in axes.spines.values():
                spine.set_visible(False)
            drawer = getattr(self, "_" + panel["type"].replace("-", "_"))
            if not drawer(axes, panel):
                self.drawn.empty.append(name)
                axes.text(0.5, 0.5, "No data", color=MUTED, ha="center", va="center", transform=axes.transAxes)
                axes.set_xticks([])
                axes.set_yticks([])
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, facecolor=BACKGROUND, dpi=DPI)
        plt.close(figure)
        return self.drawn

    # Each drawer returns False when its queries returned nothing.

    def _stat(self, axes: Any, panel: Json) -> bool:
        axes.set_xticks([])
        axes.set_yticks([])
        defaults = panel["fieldConfig"]["defaults"]
        targets = {t["refId"]: t for t in panel["targets"]}
        first = targets["A"]
        values = self.query(first["expr"], instant=bool(first.get("instant")))
        if not values:
            return False
        trends: dict[str, Json] = {}
        if "B" in targets:
            for series in self.query(targets["B"]["expr"], instant=True):
                labels = {k: v for k, v in series["metric"].items() if k != "trend"}
                trends[json.dumps(labels, sort_keys=True)] = series
        shown = values[:4]
        for i, series in enumerate(shown):
            labels = series["metric"]
            last = float((series["values"][-1] if "values" in series else series["value"])[1])
            text = series_text = legend(targets["A"].get("legendFormat", ""), labels, "")
            if panel["options"].get("textMode") == "name":
                axes.text(0.5, 0.5, text, color=TEXT, fontsize=16, ha="center", va="center", transform=axes.transAxes)
                return True
            y = 1 - (i + 0.5) / len(shown)
            mapped = _mapped(last, defaults.get("mappings", []))
            value = mapped[0] if mapped else formatted(last, defaults["unit"], defaults.get("decimals"))
            color = (mapped[1] if mapped else None) or _threshold_color(
                last, defaults.get("thresholds") if defaults.get("color", {}).get("mode") == "thresholds" else None
            )
            axes.text(0.04, y + 0.08 / len(shown), series_text, color=MUTED, fontsize=7, transform=axes.transAxes)
            axes.text(
                0.04,
                y - 0.12 / len(shown),
                value,
                color=COLORS.get(color or "", color or PALETTE[i % len(PALETTE)]),
                fontsize=20 if len(shown) == 1 else 13,
                weight="bold",
                va="center",
                transform=axes.transAxes,
            )
            trend = trends.get(json.dumps({k: v for k, v in labels.items() if k != "__name__"}, sort_keys=True))
            if trend is not None:
                settings = _override(panel, "B")
                change = float(trend["value"][1])
                mapped_trend = _mapped(change, settings.get("mappings", []))
                words = (
                    mapped_trend[0] if mapped_trend else formatted(change, settings["unit"], settings.get("decimals"))
                )
                tint = mapped_trend[1] if mapped_trend else _threshold_color(change, settings.get("thresholds"))
                label = trend["metric"].get("trend", "")
                axes.text(
                    0.96,
                    y - 0.12 / len(shown),
                    f"{words}\n{label}",
                    color=COLORS.get(tint or "", tint or MUTED),
                    fontsize=8,
                    ha="right",
                    va="center",
                    transform=axes.transAxes,
                )
        return True

    def _timeseries(self, axes: Any, panel: Json) -> bool:
        lines = 0
        unit = panel["fieldConfig"]["defaults"]["unit"]
        for target in panel["targets"]:
            for series in self.query(target["expr"], instant=False)[: 10 - lines]:
                times = [float(t) for t, _ in series["values"]]
                points = [float(v) for _, v in series["values"]]
                axes.plot(
                    [(t - self.window.end) / 86400 for t in times],
                    points,
                    color=PALETTE[lines % len(PALETTE)],
                    linewidth=1.2,
                    label=legend(target.get("legendFormat", ""), series["metric"], target["refId"])[:32],
                )
                lines += 1
        if not lines:
            return False
        threshold = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
        for step in threshold:
            if step["value"] is not None and step["color"] == "red":
                axes.axhline(step["value"], color=COLORS["red"], linestyle="--", linewidth=0.8)
        axes.tick_params(colors=MUTED, labelsize=7)
        axes.grid(color=BORDER, linewidth=0.5)
        span_days = (self.window.end - self.window.start) / 86400
        axes.set_xlabel("days before now" if span_days >= 1 else "", color=MUTED, fontsize=7)
        if span_days < 1:
            ticks = axes.get_xticks()
            axes.set_xticks(ticks)
            axes.set_xticklabels([f"{t * 86400:.0f}s" for t in ticks])
            axes.set_xlabel("seconds before now", color=MUTED, fontsize=7)
        axes.yaxis.set_major_formatter(_formatter(unit))
        axes.legend(loc="upper left", fontsize=6, facecolor=PANEL, edgecolor=BORDER, labelcolor=TEXT, ncol=2)
        return True

    def _state_timeline(self, axes: Any, panel: Json) -> bool:
        series_list = [s for t in panel["targets"] for s in self.query(t["expr"], instant=False)]
        if not series_list:
            return False
        for i, series in enumerate(series_list[:12]):
            for t, v in series["values"]:
                color = COLORS["green"] if float(v) >= 1 else COLORS["red"]
                axes.barh(
                    i, self.window.step / 86400, left=(float(t) - self.window.end) / 86400, color=color, height=0.8
                )
        axes.set_yticks(range(min(12, len(series_list))))
        axes.set_yticklabels(
            [legend(panel["targets"][0].get("legendFormat", ""), s["metric"], "")[:28] for s in series_list[:12]],
            fontsize=6,
            color=TEXT,
        )
        axes.set_xticks([])
        return True

    def _bargauge(self, axes: Any, panel: Json) -> bool:
        target = panel["targets"][0]
        result = self.query(target["expr"], instant=True)
        if not result:
            return False
        result = sorted(result, key=lambda s: float(s["value"][1]))[-10:]
        names = [legend(target.get("legendFormat", ""), s["metric"], "")[:30] for s in result]
        values = [float(s["value"][1]) for s in result]
        axes.barh(range(len(values)), values, color=PALETTE[0])
        axes.set_yticks(range(len(values)))
        axes.set_yticklabels(names, fontsize=6, color=TEXT)
        axes.tick_params(colors=MUTED, labelsize=6)
        axes.xaxis.set_major_formatter(_formatter(panel["fieldConfig"]["defaults"]["unit"]))
        return True

    def _table(self, axes: Any, panel: Json) -> bool:
        axes.set_xticks([])
        axes.set_yticks([])
        transformations = {t["id"]: t["options"] for t in panel.get("transformations", [])}
        results = {t["refId"]: self.query(t["expr"], instant=True) for t in panel["targets"]}
        if not any(results.values()):
            return False
        hidden = set(transformations.get("organize", {}).get("excludeByName", {})) | {"Time"}
        rename = transformations.get("organize", {}).get("renameByName", {})
        order = transformations.get("organize", {}).get("indexByName", {})
        rows: dict[str, dict[str, str]] = {}
        if "groupingToMatrix" in transformations:
            spec = transformations["groupingToMatrix"]
            for series in next(iter(results.values())):
                labels = series["metric"]
                row = rows.setdefault(
                    labels.get(spec["rowField"], ""), {spec["rowField"]: labels.get(spec["rowField"], "")}
                )
                row[labels.get(spec["columnField"], "")] = formatted(float(series["value"][1]), "short")
        else:
            merged = "merge" in transformations
            for ref, result in results.items():
                for series in result:
                    labels = {k: v for k, v in series["metric"].items() if k not in hidden}
                    key = json.dumps(labels, sort_keys=True) if not merged else labels.get("vendor", "")
                    row = rows.setdefault(key, dict(labels))
                    row["Value" if not merged else f"Value #{ref}"] = formatted(float(series["value"][1]), "short")
        names = sorted(
            {name for row in rows.values() for name in row if name not in hidden}, key=lambda n: (order.get(n, 99), n)
        )
        cells = [[row.get(name, "")[:24] for name in names] for row in list(rows.values())[:14]]
        if not cells:
            return False
        row_share = min(0.12, 17 / (axes.get_position().height * axes.figure.get_figheight() * DPI))
        top = (len(cells) + 1) * row_share
        table = axes.table(
            cellText=cells,
            colLabels=[rename.get(n, n) for n in names],
            cellLoc="left",
            bbox=(0.0, 1 - top, 1.0, top),
        )
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        for cell in table.get_celld().values():
            cell.set_facecolor(PANEL)
            cell.set_edgecolor(BORDER)
            cell.get_text().set_color(TEXT)
        return True


def _formatter(unit: str) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: formatted(float(value), unit))


def render(board: Json, prometheus: Prometheus, window: TimeRange, path: Path) -> Drawn:
    """Draws `board` from `prometheus` over `window` into the PNG at `path`."""
    return Picture(_first_repeat_only(board), prometheus, window).draw(path)


def _first_repeat_only(board: Json) -> Json:
    """The dashboard with each repeated row's variable narrowed to its first value (drawn once)."""
    copy: Json = json.loads(json.dumps(board))
    repeated = {p["repeat"] for p in copy["panels"] if p.get("type") == "row" and p.get("repeat")}
    for variable in copy["templating"]["list"]:
        if variable["name"] in repeated:
            variable["multi"] = False
            variable["includeAll"] = False
    return copy


# --- the demo stack --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def week_of_history(openmetrics: str, instance: str, now: float) -> str:
    """Hourly samples for the 7 days before now (whole hours, so 1h range steps hit them), and every minute
    around now − 7d (the cards' trends read that moment)."""
    hour = 3600.0
    hourly = [math.floor((now - 7 * 86400) / hour) * hour + i * hour for i in range(168)]
    around = [now - 7 * 86400 + minutes * 60 for minutes in range(-10, 11)]
    moments = sorted(t for t in set(hourly) | set(around) if t < now - 600)
    return history(business_series(openmetrics), moments, now, {"job": JOB, "instance": instance})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grafana.pictures", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNG files go (default: docs/images)")
    parser.add_argument("--scrape-seconds", type=float, default=60, help="live scrapes before drawing (default 60)")
    args = parser.parse_args(argv)
    prometheus_bin, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus_bin or not promtool:
        sys.stderr.write("needs prometheus and promtool on PATH (apt-get install prometheus)\n")
        return 2
    boards = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARD_DIR.glob("*.json"))}
    exporter: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="commerce-pictures-") as tmp:
        work = Path(tmp)
        try:
            port = _free_port()
            exporter = subprocess.Popen(
                [sys.executable, "-m", "exporter", "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
                env={**os.environ, "COMMERCE_DEMO_DB": str(work / "demo.sqlite")},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait(f"http://127.0.0.1:{port}/-/ready", exporter)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                exposition = response.read().decode()
            data = work / "data"
            data.mkdir()
            (work / "history.om").write_text(week_of_history(exposition, f"127.0.0.1:{port}", time.time()))
            subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(work / "history.om"), str(data)],
                check=True,
            )
            config = {
                "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
                "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
            }
            (work / "prometheus.yml").write_text(json.dumps(config))
            api_port = _free_port()
            server = subprocess.Popen(
                [
                    prometheus_bin,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{api_port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait(f"http://127.0.0.1:{api_port}/-/ready", server)
            time.sleep(args.scrape_seconds)
            prometheus = Prometheus(f"http://127.0.0.1:{api_port}")
            now = time.time()
            for name, board in boards.items():
                live = name == "exporter-health"
                window = (
                    TimeRange(now - args.scrape_seconds + 4, now, 2)
                    if live
                    else TimeRange(math.ceil((now - 7 * 86400) / 3600) * 3600, now, 3600)
                )
                drawn = render(board, prometheus, window, args.out / f"{name}.png")
                empty = f"; no data: {', '.join(drawn.empty)}" if drawn.empty else ""
                sys.stdout.write(f"{args.out / f'{name}.png'}: {drawn.panels} panels{empty}\n")
        finally:
            _stop(server)
            _stop(exporter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
