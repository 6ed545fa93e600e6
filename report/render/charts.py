"""Every chart of the report: rows in, a matplotlib Figure out; SVG for the page and the PDF, PNG for email.

Figures are built with `Figure()` (no pyplot): no global state, safe to render in worker processes. Layout is
fixed in inches, and labels, grid lines and legends are drawn as plain texts and lines: matplotlib's tick and
legend machinery (a dozen artists a tick, measured and re-measured) was most of a chart's cost.

One convention everywhere: long and short per bucket are mirrored — shorts above the axis (or right), longs
below (or left) — long comes first in every legend, and each side has one colour: a dark burnt orange for
longs and a light blue for shorts, far apart in lightness so a greyscale print still tells them apart. No
other element uses those two hues. Every chart is 4.8 in wide with text of at least 10.5 pt, so scaled to a
370 px phone column its smallest text is still about 11 CSS px.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from xml.etree import ElementTree

import matplotlib
from PIL import Image

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # real <text>: selectable, searchable, scales with the page
matplotlib.rcParams["svg.hashsalt"] = "liqreport"  # the same chart gives the same bytes
matplotlib.rcParams["font.family"] = "DejaVu Sans"
matplotlib.rcParams["hatch.linewidth"] = 0.8

import matplotlib.text  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.backends.backend_mixed import MixedModeRenderer  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle, StepPatch  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.textpath import TextToPath  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import (  # noqa: E402
    Bbox,
    BboxTransformFrom,
    BboxTransformTo,
    TransformedBbox,
    blended_transform_factory,
    offset_copy,
)

from report.formatting import day_month, exchange_label, price_axis, usd  # noqa: E402
from report.palette import Palette  # noqa: E402


@dataclass(frozen=True)
class ChartStyle(Palette):
    width_in: float = 4.8
    dpi: int = 72  # SVG user units are points: 4.8 in = 345.6 units
    png_scale: float = 200 / 72  # email PNGs: 960 px for a 480 px slot, 2x
    font_pt: float = 10.5  # the smallest text in any chart

    @property
    def heat_cmap(self) -> LinearSegmentedColormap:
        return LinearSegmentedColormap.from_list("liq-heat", list(self.heat))


STYLE = ChartStyle()
DASHED = (0, (3, 2))
HATCH = "////"
# The price line: the darkest ink, thicker than any rule and haloed in white, so it reads over either side's
# fill, in greyscale too, and is never taken for a bar (bars are fills, the price is the only line).
PRICE_LINE_WIDTH = 1.6
PRICE_HALO_WIDTH = 3.6


@dataclass(frozen=True)
class Margins:
    """Space around the plot in inches: fixed, so no layout engine has to measure the texts."""

    left: float = 0.62
    right: float = 0.12
    top: float = 0.3
    bottom: float = 0.44


def axis_usd(value: float) -> str:
    # axis labels are round numbers: $50M, not $50.0M; mirrored axes show magnitudes
    return usd(abs(value)).replace(".00", "").replace(".0", "") if value else "$0"


def cell_usd(value: float) -> str:
    """Two significant figures, no $ (the title says USD): a heatmap cell has room for 4 characters."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= threshold * 0.9995:
            scaled = value / threshold
            return f"{scaled:.0f}{suffix}" if scaled >= 9.95 else f"{scaled:.1f}{suffix}"
    return f"{value:.0f}"


def day_labels(days) -> list[str]:
    """'Mon' over '23': seven days fit a phone-width chart without overlapping."""
    return [f"{day:%a}\n{day.day}" for day in days]


def literal(text: str) -> str:
    """Codes come from the API: a '$' in one must print as '$', not start matplotlib's math mode."""
    return text.replace("$", r"\$")


# matplotlib measures each label anew in every figure: its text-metrics cache is keyed by the renderer, and
# each chart is drawn by a renderer of its own. A label's size depends only on the kind of renderer (SVG's
# text-to-path or Agg), the text, the font and the dpi, so one cache shared by all charts measures the
# report's ~640 labels ~160 times (a quarter of the charts' CPU), with the same bytes out.
_measure_text = getattr(matplotlib.text, "_get_text_metrics_with_cache", None)  # private: absent, no sharing
TEXT_METRICS: dict[tuple, tuple] = {}


def shared_text_metrics(renderer, text: str, fontprop, ismath, dpi: float) -> tuple:
    # the SVG backend's renderer is a MixedModeRenderer drawing with a RendererSVG (a raster one while
    # rasterizing): the one drawing is what measures
    kind = type(renderer._renderer if isinstance(renderer, MixedModeRenderer) else renderer)
    metrics = TEXT_METRICS.get((kind, text, fontprop, ismath, dpi))
    if metrics is None:
        if len(TEXT_METRICS) > 8192:
            TEXT_METRICS.clear()
        metrics = _measure_text(renderer, text, fontprop, ismath, dpi)
        TEXT_METRICS[kind, text, fontprop.copy(), ismath, dpi] = metrics  # a key must not change
    return metrics


if _measure_text is not None:
    matplotlib.text._get_text_metrics_with_cache = shared_text_metrics


@lru_cache(maxsize=512)
def text_width_in(text: str) -> float:
    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=STYLE.font_pt),
                                                             ismath=False)
    return width / 72


def label_margin(labels: list[str]) -> float:
    return 0.16 + max((text_width_in(label) for label in labels), default=0.3)


# ---------------------------------------------------------------- drawing primitives

class Plot(Artist):
    """A chart's plot area: its data limits, the transforms an Axes gives and the marks drawn in it, and
    nothing else. An Axes builds two axis objects with their ticks, spines and a patch (~6 ms, a fifth of a
    chart) that, with the axis off and every mark drawn by this module, show nothing. Its marks are drawn in
    zorder, as an Axes draws its own, unclipped (every chart keeps its marks inside its plot)."""

    zorder = 0

    def __init__(self, figure: Figure, bounds: tuple[float, float, float, float]):
        super().__init__()
        self.bounds = bounds
        self.view = Bbox.unit()  # the data limits, set by set_xlim/set_ylim; transforms follow them
        self.transAxes = BboxTransformTo(TransformedBbox(Bbox.from_bounds(*bounds), figure.transFigure))
        self.transData = BboxTransformFrom(self.view) + self.transAxes
        self.marks: list[Artist] = []
        figure.add_artist(self)

    @property
    def lines(self) -> list[Line2D]:
        return [mark for mark in self.marks if isinstance(mark, Line2D)]

    @property
    def texts(self) -> list[Text]:
        return [mark for mark in self.marks if isinstance(mark, Text)]

    def set_xlim(self, left: float, right: float) -> None:
        self.view.intervalx = left, right

    def set_ylim(self, bottom: float, top: float) -> None:
        self.view.intervaly = bottom, top

    def get_position(self) -> Bbox:
        return Bbox.from_bounds(*self.bounds)

    def get_xaxis_transform(self):
        return blended_transform_factory(self.transData, self.transAxes)

    def get_yaxis_transform(self):
        return blended_transform_factory(self.transAxes, self.transData)

    def add_mark(self, mark: Artist, autolim: bool = False) -> Artist:
        if not mark.is_transform_set():
            mark.set_transform(self.transData)
        mark.set_figure(self.figure)
        self.marks.append(mark)
        return mark

    add_line = add_patch = add_collection = add_mark

    def text(self, x: float, y: float, label: str, transform, **style) -> Text:
        return self.add_mark(Text(x, y, label, transform=transform, **style))

    def stairs(self, values, edges, *, color: str, fill: bool = True) -> StepPatch:
        """Axes.stairs: a filled step outline has no edge line, an open one is drawn in the colour."""
        look = {"facecolor": color, "linewidth": 0} if fill else {"edgecolor": color}
        return self.add_mark(StepPatch(values, edges, fill=fill, **look))

    def get_children(self) -> list[Artist]:
        return list(self.marks)

    def draw(self, renderer) -> None:
        if self.get_visible():
            for mark in sorted(self.marks, key=Artist.get_zorder):
                mark.draw(renderer)


def new_figure(height_in: float, margins: Margins = Margins(), *, image: bool = False):
    """A figure with its plot area: a Plot, or a real Axes (axis off) for a chart that shows an image."""
    figure = Figure(figsize=(STYLE.width_in, height_in), dpi=STYLE.dpi, facecolor="white")
    bounds = (margins.left / STYLE.width_in, margins.bottom / height_in,
              1 - (margins.left + margins.right) / STYLE.width_in,
              1 - (margins.top + margins.bottom) / height_in)
    if not image:
        return figure, Plot(figure, bounds)
    ax = figure.add_axes(bounds)
    ax.set_axis_off()
    ax.set_autoscale_on(False)
    return figure, ax


def text(ax, x, y, label, transform, **style):
    style = {"fontsize": STYLE.font_pt, "color": STYLE.ink, **style}
    return ax.text(x, y, label, transform=transform, **style)


def x_labels(ax, positions, labels, *, top: bool = False) -> None:
    transform = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, y=4 if top else -4, units="points")
    for position, label in zip(positions, labels, strict=True):
        text(ax, position, 1 if top else 0, label, transform, ha="center", va="bottom" if top else "top",
             linespacing=1.05)


def y_labels(ax, positions, labels) -> None:
    transform = offset_copy(ax.get_yaxis_transform(), fig=ax.figure, x=-5, units="points")
    for position, label in zip(positions, labels, strict=True):
        text(ax, 0, position, label, transform, ha="right", va="center")


def rules(ax, positions, *, vertical: bool = False, color: str = STYLE.grid, width: float = 0.7) -> None:
    """Grid lines (or the zero line) across the whole plot, as one collection."""
    if vertical:
        segments, transform = [[(x, 0), (x, 1)] for x in positions], ax.get_xaxis_transform()
    else:
        segments, transform = [[(0, y), (1, y)] for y in positions], ax.get_yaxis_transform()
    lines = LineCollection(segments, colors=color, linewidths=width, transform=transform, zorder=0.5)
    ax.add_collection(lines, autolim=False)


def boxes(ax, left, right, bottom, top, **style) -> None:
    """Rectangles [left, right] × [bottom, top] (lists or scalars) as one collection: one artist in all."""
    count = max(len(value) for value in (left, right, bottom, top) if isinstance(value, list))

    def item(value, index):
        return value[index] if isinstance(value, list) else value

    verts = []
    for i in range(count):
        x0, x1, y0, y1 = item(left, i), item(right, i), item(bottom, i), item(top, i)
        if (x0, y0) != (x1, y1):
            verts.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    if verts:
        ax.add_collection(PolyCollection(verts, **{"linewidths": 0, **style}), autolim=False)


def missing_spans(ax, spans: list[tuple[float, float]], bottom: float, top: float) -> None:
    if spans:
        boxes(ax, [first for first, _ in spans], [last for _, last in spans], bottom, top,
              facecolors=STYLE.missing_fill, edgecolors=STYLE.missing, hatch=HATCH, zorder=0.4)


def usd_axis(ax, peak: float, *, headroom: float = 1.12, horizontal: bool = False) -> float:
    """A symmetric USD scale for mirrored bars: limits, round labels, grid and the zero line."""
    peak = peak or 1.0
    limit = peak * headroom
    ticks = [tick for tick in MaxNLocator(nbins=4, symmetric=True).tick_values(-limit, limit)
             if -limit <= tick <= limit]
    labels = [axis_usd(tick) for tick in ticks]
    if horizontal:
        ax.set_xlim(-limit, limit)
        rules(ax, [tick for tick in ticks if tick], vertical=True)
        rules(ax, [0.0], vertical=True, color=STYLE.ink, width=0.8)
        x_labels(ax, ticks, labels)
    else:
        ax.set_ylim(-limit, limit)
        rules(ax, [tick for tick in ticks if tick])
        rules(ax, [0.0], color=STYLE.ink, width=0.8)
        y_labels(ax, ticks, labels)
    return limit


def legend(figure: Figure, extra: list[tuple[dict, str]] = (), *, where: tuple[str, str] = ("", "")) -> None:
    """One row across the top, long first, each side's label in its own colour; swatches are plain boxes."""
    items = [({"facecolor": STYLE.long}, f"Long{where[0]}", STYLE.long_ink),
             ({"facecolor": STYLE.short}, f"Short{where[1]}", STYLE.short_ink),
             *[(swatch, label, STYLE.ink) for swatch, label in extra]]
    width_in, height_in = figure.get_size_inches()
    x, y = 0.08, height_in - 0.2
    for swatch, label, color in items:
        swatch_in = 0.15
        if "line" in swatch:
            figure.add_artist(Line2D([x / width_in, (x + 0.15) / width_in], [(y + 0.02) / height_in] * 2,
                                     color=swatch["line"], linewidth=PRICE_LINE_WIDTH,
                                     transform=figure.transFigure))
        elif "markers" in swatch:  # one or more marker symbols side by side, e.g. ('^', 'v')
            for index, marker in enumerate(swatch["markers"]):
                figure.add_artist(Line2D([(x + 0.07 + 0.12 * index) / width_in], [(y + 0.02) / height_in],
                                         marker=marker, color=STYLE.ink, linestyle="none", markersize=6,
                                         transform=figure.transFigure))
            swatch_in += 0.12 * (len(swatch["markers"]) - 1)
        else:
            look = {"linewidth": 0, **swatch}
            figure.add_artist(Rectangle((x / width_in, (y - 0.045) / height_in), 0.15 / width_in,
                                        0.13 / height_in, transform=figure.transFigure, **look))
        figure.text((x + swatch_in + 0.05) / width_in, (y + 0.02) / height_in, label, fontsize=STYLE.font_pt,
                    color=color, va="center", ha="left")
        x += swatch_in + 0.05 + text_width_in(label) + 0.16


def no_data(ax, message: str) -> None:
    text(ax, 0.5, 0.5, message, ax.transAxes, ha="center", va="center", color=STYLE.muted)


MISSING_SWATCH = {"facecolor": STYLE.missing_fill, "edgecolor": STYLE.missing, "hatch": HATCH}
PRICE_SWATCH = {"line": STYLE.ink}
PREVIOUS_SWATCH = {"fill": False, "edgecolor": STYLE.previous, "linestyle": DASHED, "linewidth": 1.0}
REPORT_SWATCH = {"fill": False, "edgecolor": STYLE.ink, "linewidth": 1.2}


# ---------------------------------------------------------------- overview and per asset

def exchanges_mirrored(rows: list[dict], *, scope: str) -> Figure:
    """Long (left) and short (right) USD per exchange, largest on top; exchanges by name."""
    shown = [row for row in rows if (row["total_amount"] or 0) > 0]
    labels = [literal(exchange_label(row["exchange"])) for row in shown]
    figure, ax = new_figure(0.74 + 0.24 * max(len(shown), 1),
                            Margins(left=label_margin(labels), right=0.3, top=0.32, bottom=0.3))
    legend(figure, where=(" (left)", " (right)"))
    if not shown:
        no_data(ax, f"No exchange reported liquidations {scope}")
        return figure
    positions = list(range(len(shown)))[::-1]
    longs = [row["long_amount"] or 0 for row in shown]
    shorts = [row["short_amount"] or 0 for row in shown]
    bottoms, tops = [p - 0.34 for p in positions], [p + 0.34 for p in positions]
    boxes(ax, [-value for value in longs], 0.0, bottoms, tops, facecolors=STYLE.long)
    boxes(ax, 0.0, shorts, bottoms, tops, facecolors=STYLE.short)
    ax.set_ylim(-0.6, len(shown) - 0.4)
    usd_axis(ax, max(longs + shorts), headroom=1.06, horizontal=True)
    y_labels(ax, positions, labels)
    return figure


def long_share_weeks(rows: list[dict]) -> Figure:
    """Each week's USD split into longs (bottom, labelled) and shorts (top); the report week outlined."""
    figure, ax = new_figure(2.4, Margins(left=0.48, bottom=0.3, top=0.42))
    partial = any(not row["is_fully_covered"] for row in rows)
    legend(figure, [(MISSING_SWATCH, "Not fully covered")] if partial else [])
    if not rows:
        no_data(ax, "No weeks on file")
        return figure
    positions = list(range(len(rows)))
    known = [(p, row) for p, row in zip(positions, rows, strict=True) if row["long_share"] is not None]
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, 1)
    left = [p - 0.39 for p, _ in known]
    right = [p + 0.39 for p, _ in known]
    shares = [row["long_share"] for _, row in known]
    if known:
        boxes(ax, left, right, 0.0, shares, facecolors=STYLE.long)
        boxes(ax, left, right, shares, 1.0, facecolors=STYLE.short)
    missing_spans(ax, [(p - 0.39, p + 0.39) for p, row in zip(positions, rows, strict=True)
                       if row["long_share"] is None], 0.0, 1.0)
    # a week with data that is not fully covered: its bar, hatched over, so it never reads as a full week
    partial = [p for p, row in known if not row["is_fully_covered"]]
    if partial:
        boxes(ax, [p - 0.39 for p in partial], [p + 0.39 for p in partial], 0.0, 1.0, facecolors="none",
              edgecolors="white", hatch=HATCH, zorder=1.5)
    for position, row in known:
        text(ax, position, row["long_share"] / 2, f"{row['long_share'] * 100:.0f}", ax.transData, ha="center",
             va="center", color="white", fontweight="bold")
        if row["is_report_week"]:
            ax.add_patch(Rectangle((position - 0.39, 0), 0.78, 1, fill=False, edgecolor=STYLE.ink,
                                   linewidth=1.4))
    ax.add_line(Line2D([-0.6, len(rows) - 0.4], [0.5, 0.5], color=STYLE.ink, linewidth=0.8, linestyle=DASHED))
    y_labels(ax, [0, 0.5, 1], ["0%", "50%", "100%"])
    shown = positions[::-2][::-1]
    x_labels(ax, shown, [day_month(rows[p]["week_start"]) for p in shown])
    return figure


def hourly_mirrored(rows: list[dict], spike_hours: tuple = (), prices: tuple = (),
                    price_label: str = "Price") -> Figure:
    """Every hour of the period: shorts up, longs down; hours without data hatched; each spike marked beyond
    the end of its larger side's bar. With `prices` (rpt_price_timeline rows) the hourly close is a dark line
    against its own scale on the right; it breaks where an hour has no price."""
    closes = {row["hour"]: row["close"] for row in prices if row["has_price"]}
    price_labels = price_ticks(list(closes.values())) if closes else []
    margins = Margins(right=label_margin([label for _, label in price_labels]) + 0.02 if closes else 0.12)
    figure, ax = new_figure(2.3, margins)
    extra = [(PRICE_SWATCH, f"{price_label} (right)")] if closes else []
    if any(not row["is_covered"] for row in rows):
        extra.append((MISSING_SWATCH, "No data"))
    shorts = [row["short_amount"] or 0 for row in rows]
    longs = [row["long_amount"] or 0 for row in rows]
    spikes = spike_runs(rows, shorts, longs, set(spike_hours))
    sides = {up for run in spikes for up, _ in run}
    if sides:
        extra.append(({"markers": [marker for up, marker in ((True, "^"), (False, "v")) if up in sides]},
                      "Spike"))
    legend(figure, extra)
    if not rows:
        no_data(ax, "No hours in this period")
        return figure
    start = rows[0]["hour"]
    offsets = [(row["hour"] - start) / timedelta(hours=1) for row in rows]
    end = offsets[-1] + 1
    ax.set_xlim(0, end)
    limit = usd_axis(ax, max(shorts + longs), headroom=1.25)
    # one filled step path per side: the same picture as 168 bars at a fraction of the cost
    edges = [*offsets, end]
    ax.stairs(shorts, edges, fill=True, color=STYLE.short)
    ax.stairs([-value for value in longs], edges, fill=True, color=STYLE.long)
    missing_spans(ax, [(offset, offset + 1) for offset, row in zip(offsets, rows, strict=True)
                       if not row["is_covered"]], -limit, limit)
    marks = {True: ([], []), False: ([], [])}
    for run in spikes:
        up = run[0][0]
        # a 6-pt marker is wider than an hour's bar: beyond the tallest bar of the run and the hour either
        # side, all at one height, so no marker sits inside a neighbour's bar
        first, last = max(run[0][1] - 1, 0), min(run[-1][1] + 1, len(rows) - 1)
        extreme = max((shorts if up else longs)[first:last + 1]) + limit * 0.07
        for _, index in run:
            marks[up][0].append(offsets[index] + 0.5)
            marks[up][1].append(extreme if up else -extreme)
    for up, (xs, ys) in marks.items():
        if xs:
            ax.add_line(Line2D(xs, ys, marker="^" if up else "v", color=STYLE.ink,
                                                linestyle="none", markersize=6, clip_on=False))
    if closes:
        price_line(figure, ax, [offset + 0.5 for offset in offsets],
                   [closes.get(row["hour"]) for row in rows], price_labels, end)
    days = int(offsets[-1] // 24) + 1
    rules(ax, [24 * day for day in range(1, days)], vertical=True)
    step = 2 if days > 8 else 1
    x_labels(ax, [24 * day + 12 for day in range(days)][::step],
             day_labels(start + timedelta(days=day) for day in range(days))[::step])
    return figure


def price_ticks(closes: list[float]) -> list[tuple[float, str]]:
    """Three to five round prices inside the range of the closes, with their labels."""
    low, high = min(closes), max(closes)
    span = (high - low) or abs(high) * 0.01 or 1.0
    ticks = MaxNLocator(nbins=4).tick_values(low - span * 0.05, high + span * 0.05)
    return [(tick, price_axis(tick)) for tick in ticks if low - span * 0.1 <= tick <= high + span * 0.1]


def price_line(figure: Figure, ax, xs: list[float], closes: list[float | None],
               labels: list[tuple[float, str]], end: float) -> None:
    """The closes on an axes of their own over the plot (same x, the price's y), labelled on the right; a
    missing close breaks the line rather than bridging the gap."""
    known = [close for close in closes if close is not None]
    low, high = min(known + [tick for tick, _ in labels]), max(known + [tick for tick, _ in labels])
    pad = (high - low) * 0.06 or abs(high) * 0.01 or 1.0
    price_ax = Plot(figure, ax.get_position().bounds)
    price_ax.set_xlim(0, end)
    price_ax.set_ylim(low - pad, high + pad)
    ys = [float("nan") if close is None else close for close in closes]
    price_ax.add_line(Line2D(xs, ys, color=STYLE.ink, linewidth=PRICE_LINE_WIDTH, solid_joinstyle="round",
                             path_effects=[patheffects.Stroke(linewidth=PRICE_HALO_WIDTH, foreground="white"),
                                           patheffects.Normal()]))
    transform = offset_copy(price_ax.get_yaxis_transform(), fig=figure, x=5, units="points")
    for tick, label in labels:
        text(price_ax, 1, tick, label, transform, ha="left", va="center")


def spike_runs(rows: list[dict], shorts: list[float], longs: list[float], spikes: set) -> list[list[tuple]]:
    """Spike hours as runs of consecutive hours on the same side: [[(up, row index), …], …], up meaning the
    shorts (drawn up) are the larger side."""
    runs: list[list[tuple]] = []
    for index, row in enumerate(rows):
        if row["hour"] not in spikes:
            continue
        up = shorts[index] > longs[index]
        if runs and runs[-1][-1] == (up, index - 1):
            runs[-1].append((up, index))
        else:
            runs.append([(up, index)])
    return runs


def daily_mirrored(rows: list[dict], *, previous_label: str) -> Figure:
    """Each day: shorts up, longs down; the same day one period earlier as a dashed outline."""
    figure, ax = new_figure(2.3)
    extra = [(PREVIOUS_SWATCH, previous_label)]
    if any(not row["hours_covered"] for row in rows):
        extra.append((MISSING_SWATCH, "No data"))
    legend(figure, extra)
    positions = list(range(len(rows)))
    shorts = [row["short_amount"] or 0 for row in rows]
    longs = [row["long_amount"] or 0 for row in rows]
    previous_short = [row["previous_short_amount"] or 0 for row in rows]
    previous_long = [row["previous_long_amount"] or 0 for row in rows]
    ax.set_xlim(-0.6, len(rows) - 0.4)
    limit = usd_axis(ax, max(shorts + longs + previous_short + previous_long))
    left, right = [p - 0.31 for p in positions], [p + 0.31 for p in positions]
    boxes(ax, left, right, 0.0, shorts, facecolors=STYLE.short)
    boxes(ax, left, right, [-value for value in longs], 0.0, facecolors=STYLE.long)
    outline = {"facecolors": "none", "edgecolors": STYLE.previous, "linewidths": 0.9, "linestyles": DASHED}
    wide_left, wide_right = [p - 0.43 for p in positions], [p + 0.43 for p in positions]
    boxes(ax, wide_left, wide_right, 0.0, previous_short, **outline)
    boxes(ax, wide_left, wide_right, [-value for value in previous_long], 0.0, **outline)
    missing_spans(ax, [(p - 0.45, p + 0.45) for p, row in zip(positions, rows, strict=True)
                       if not row["hours_covered"]], -limit, limit)
    x_labels(ax, positions, day_labels(row["day"] for row in rows))
    return figure


def weekly_mirrored(rows: list[dict]) -> Figure:
    """Twelve weeks: shorts up, longs down; the report week outlined, partial weeks hatched."""
    figure, ax = new_figure(2.3)
    extra = [(REPORT_SWATCH, "This report")]
    if any(row["is_partial"] for row in rows):
        extra.append((MISSING_SWATCH, "Partial / no data"))
    legend(figure, extra)
    positions = list(range(len(rows)))
    shorts = [row["short_amount"] or 0 for row in rows]
    longs = [row["long_amount"] or 0 for row in rows]
    ax.set_xlim(-0.6, len(rows) - 0.4)
    limit = usd_axis(ax, max(shorts + longs, default=0))
    left, right = [p - 0.36 for p in positions], [p + 0.36 for p in positions]
    if rows:
        boxes(ax, left, right, 0.0, shorts, facecolors=STYLE.short)
        boxes(ax, left, right, [-value for value in longs], 0.0, facecolors=STYLE.long)
    missing_spans(ax, [(p - 0.36, p + 0.36) for p, row in zip(positions, rows, strict=True)
                       if row["is_partial"]], -limit, limit)
    for position, row in zip(positions, rows, strict=True):
        if row["is_report_week"]:
            ax.add_patch(Rectangle((position - 0.36, -(row["long_amount"] or 0)), 0.72,
                                   (row["long_amount"] or 0) + (row["short_amount"] or 0), fill=False,
                                   edgecolor=STYLE.ink, linewidth=1.4))
    shown = positions[::-2][::-1]
    x_labels(ax, shown, [day_month(rows[p]["week_start"]) for p in shown])
    return figure


def exchange_day_heatmap(rows: list[dict], days: tuple = ()) -> Figure:
    """Each exchange's week spread over its days: the shade is the day's share of that exchange's week (so a
    small venue's pattern shows as well as Binance's), the label the USD of its own largest day; a column of
    labels is a cross-venue wave, a lone label a local event."""
    exchanges = sorted({(row["exchange_rank"], row["exchange"]) for row in rows})
    days = sorted(set(days) | {row["day"] for row in rows})
    labels = [literal(exchange_label(code)) for _, code in exchanges]
    figure, ax = new_figure(0.5 + 0.24 * max(len(exchanges), 1),
                            Margins(left=label_margin(labels), right=0.1, top=0.42, bottom=0.06), image=True)
    if not rows:
        no_data(ax, "No exchange reported liquidations")
        return figure
    cell = {(row["exchange"], row["day"]): row["share_of_exchange_week"] for row in rows}
    grid = [[cell.get((code, day), float("nan")) for day in days] for _, code in exchanges]
    peak = max((value for line in grid for value in line if value == value), default=0) or 1
    norm = Normalize(vmin=0, vmax=peak)
    cmap = STYLE.heat_cmap
    ax.imshow(grid, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest",
              extent=(-0.5, len(days) - 0.5, len(exchanges) - 0.5, -0.5))
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_ylim(len(exchanges) - 0.5, -0.5)
    for y, row_peak in enumerate(peak_days(rows, exchanges, days)):
        if row_peak is not None:
            x, value, share_of_week = row_peak
            text(ax, x, y, cell_usd(value), ax.transData, ha="center", va="center",
                 color=label_color(cmap(norm(share_of_week))))
    y_labels(ax, list(range(len(exchanges))), labels)
    x_labels(ax, list(range(len(days))), day_labels(days), top=True)
    return figure


def peak_days(rows: list[dict], exchanges: list[tuple], days: list) -> list[tuple[int, float, float] | None]:
    """(column, USD, share of the week) of each exchange's peak day, from rpt_exchange_day's flag."""
    column = {day: index for index, day in enumerate(days)}
    peaks = {row["exchange"]: (column[row["day"]], row["total_amount"], row["share_of_exchange_week"])
             for row in rows if row["is_exchange_peak_day"] and row["total_amount"] > 0}
    return [peaks.get(code) for _, code in exchanges]


# ---------------------------------------------------------------- colour arithmetic (WCAG 2)

def relative_luminance(color) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in to_rgb(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first, second) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def label_color(background) -> str:
    """Black or white, whichever reads better on the cell: one of the two always reaches 4.58:1."""
    dark, light = contrast_ratio("#000000", background), contrast_ratio("#FFFFFF", background)
    return "#000000" if dark >= light else "#FFFFFF"


# ---------------------------------------------------------------- exports

CHARTS = {
    "market_exchanges": exchanges_mirrored,
    "long_share_weeks": long_share_weeks,
    "hourly": hourly_mirrored,
    "daily": daily_mirrored,
    "exchanges": exchanges_mirrored,
    "exchange_day": exchange_day_heatmap,
    "weekly": weekly_mirrored,
}

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ElementTree.register_namespace("xlink", XLINK)
ElementTree.register_namespace("svg", SVG)
# xlink:href="#m1" (a whole href value) and fill: url(#h1); never a colour such as fill="#f1f2f4"
_HREF = re.compile(r"(^#)([\w-]+)")
_URL = re.compile(r"(url\(#)([\w-]+)")
PRESENTATION = {"fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray", "stroke-dashoffset",
                "stroke-linecap", "stroke-linejoin", "stroke-opacity", "opacity", "font-size", "font-family",
                "font-weight", "font-style", "text-anchor"}


def svg_markup(figure: Figure, prefix: str) -> str:
    """The figure as compact SVG: no metadata or clipping (every chart keeps its marks inside its plot),
    no wrapper groups, styles as presentation attributes, and only the ids something refers to, each
    prefixed so that several charts on one page never share one. A third of matplotlib's elements: what a
    browser and the PDF engine have to walk."""
    rendered = io.StringIO()
    figure.savefig(rendered, format="svg", facecolor="white")
    root = ElementTree.fromstring(rendered.getvalue())
    referenced = {match[1] for element in root.iter() for key, value in element.attrib.items()
                  for match in reference_pattern(key).findall(value)}
    for element in root.iter():
        name = element.attrib.pop("id", None)
        if name in referenced:
            element.set("id", f"{prefix}-{name}")
        for key, value in element.attrib.items():
            if "#" in value:
                element.set(key, reference_pattern(key).sub(lambda match: f"{match[1]}{prefix}-{match[2]}",
                                                            value))
    compact(root)
    root.set("class", "chart-svg")
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    # ElementTree writes the namespace as the svg: prefix; HTML wants it as the default (text is escaped)
    markup = ElementTree.tostring(root, encoding="unicode")
    return markup.replace("<svg:", "<").replace("</svg:", "</").replace("xmlns:svg=", "xmlns=")


def reference_pattern(attribute: str) -> re.Pattern:
    """An href names an element by its whole value; any other attribute only inside url(…): a hatch's
    background colour fill="#f1f2f4" once became a reference to a missing id and was drawn black."""
    return _HREF if attribute.endswith("href") else _URL


def compact(parent: ElementTree.Element) -> None:
    """Drop clip paths, metadata, no-op rotations and empty or attribute-less groups; styles become
    attributes; in place."""
    index = 0
    while index < len(parent):
        child = parent[index]
        tag = child.tag.rpartition("}")[2]
        if tag in ("clipPath", "style", "metadata"):
            del parent[index]
            continue
        child.attrib.pop("clip-path", None)
        if child.get("transform", "").startswith("rotate(-0 "):  # matplotlib's on every unrotated text
            del child.attrib["transform"]
        style = child.attrib.pop("style", None)
        if style:
            for declaration in style.split(";"):
                key, _, value = declaration.partition(":")
                key, value = key.strip(), value.strip().strip("'")
                if key in PRESENTATION:
                    child.set(key, value)
        compact(child)
        if tag == "g" and not child.attrib:
            parent[index:index + 1] = list(child)  # lift the children into the parent
            continue
        if tag in ("g", "defs") and len(child) == 0:
            del parent[index]
            continue
        index += 1


def png_bytes(figure: Figure) -> bytes:
    """2x PNG on a solid white background (dark-mode mail clients invert transparent images), reduced to a
    256-colour palette: flat chart colours survive it and the files are about a third of the size."""
    dpi = STYLE.dpi * STYLE.png_scale
    rendered = io.BytesIO()  # Agg's pixels as they are: a PNG encoded only to be decoded again cost half
    figure.savefig(rendered, format="rgba", dpi=dpi, facecolor="white", transparent=False)
    width = int(figure.get_figwidth() * dpi)
    height, rest = divmod(len(rendered.getbuffer()), 4 * width)
    if rest:
        raise ValueError(f"{len(rendered.getbuffer())} RGBA bytes are not rows of {width} pixels")
    image = Image.frombuffer("RGBA", (width, height), rendered.getbuffer(), "raw", "RGBA", 0, 1)
    palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                            dither=Image.Dither.NONE)
    output = io.BytesIO()
    palette.save(output, format="PNG")
    return output.getvalue()


def render(kind: str, args: tuple, kwargs: dict, prefix: str, png: bool) -> tuple[str, bytes | None]:
    """Top-level (picklable) entry for worker processes: one chart as SVG, and as PNG when asked."""
    figure = CHARTS[kind](*args, **kwargs)
    return svg_markup(figure, prefix), (png_bytes(figure) if png else None)
