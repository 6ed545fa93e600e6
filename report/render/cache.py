"""Charts drawn by earlier renders of the same period, found again by a hash of their rows and the chart code.

Re-rendering a week (a template fix, `render` after `run`) redraws only the charts whose rows changed. One
folder a period under output/.cache/charts/; charts the render no longer asks for are removed, so a folder
never holds more than one report's charts.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import matplotlib

from report import formatting, palette
from report.render import charts, sections

CACHE_DIR = Path(".cache") / "charts"
# what a chart looks like depends on its rows and on this code: a change to either draws it anew
SOURCES = (charts, palette, formatting)
CHART_CODE = hashlib.sha256(b"".join(Path(module.__file__).read_bytes() for module in SOURCES)
                            + matplotlib.__version__.encode()).hexdigest()[:16]


@dataclass
class Drawn:
    """One chart as the page embeds it (inline SVG) and, for the email, as PNG."""

    spec: sections.ChartSpec
    svg: str
    png: bytes | None


class ChartCache:
    def __init__(self, folder: Path):
        self.folder = folder

    def key(self, spec: sections.ChartSpec) -> str:
        drawing = (CHART_CODE, spec.kind, spec.args, spec.kwargs, spec.name, spec.email)
        return f"{spec.name}-{hashlib.sha256(pickle.dumps(drawing, protocol=5)).hexdigest()[:20]}"

    def get(self, spec: sections.ChartSpec) -> Drawn | None:
        key = self.key(spec)
        try:
            png = (self.folder / f"{key}.png").read_bytes() if spec.email else None
            return Drawn(spec, (self.folder / f"{key}.svg").read_text(encoding="utf-8"), png)
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, chart: Drawn) -> None:
        key = self.key(chart.spec)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if chart.png is not None:
                replace(self.folder / f"{key}.png", chart.png)
            replace(self.folder / f"{key}.svg", chart.svg.encode("utf-8"))
        except OSError:
            pass  # a cache that cannot be written only costs the next render its time

    def keep_only(self, specs: list[sections.ChartSpec]) -> None:
        wanted = {self.key(spec) for spec in specs}
        for path in self.folder.glob("*.*") if self.folder.is_dir() else ():
            if path.stem not in wanted:
                path.unlink(missing_ok=True)


def replace(path: Path, data: bytes) -> None:
    """Whole or absent (a reader never sees half a chart); no fsync: losing a cache entry costs a redraw."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
