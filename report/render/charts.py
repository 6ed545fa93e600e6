"""Every chart of the report: rows in, matplotlib Figure out, PNG bytes for the HTML and charts/.

Figures are built with `Figure()` (no pyplot): no global state, safe to render in worker processes.
One style object holds the colours: long/short are the Okabe-Ito vermillion/blue pair (colour-blind safe),
and each exchange code keeps one colour in every chart.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import matplotlib
from PIL import Image

matplotlib.use("Agg")

from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from report.formatting import WEEK_WORDS, PeriodWords, exchange_name, usd  # noqa: E402


@dataclass(frozen=True)
class ChartStyle:
    long: str = "#D55E00"  # Okabe-Ito vermillion
    short: str = "#0072B2"  # Okabe-Ito blue
    missing: str = "#BBBBBB"
    previous: str = "#555555"
    text: str = "#222222"
    grid: str = "#E5E5E5"
    width_in: float = 7.2  # 720 CSS px at 100 dpi: fits a 640–800 px column
    height_in: float = 3.2
    dpi: int = 100
    export_scale: int = 2  # PNGs at 2x for sharp screens and print
    font_size: float = 10.0
    exchange_colors: dict = field(default_factory=lambda: {
        "binc": "#E69F00", "bbit": "#56B4E9", "okex": "#009E73", "drbt": "#CC79A7",
        "hbdm": "#F0E442", "bfnx": "#0072B2", "krkn": "#D55E00", "cbse": "#999999",
    })
    fallback_colors: tuple = ("#8C6D31", "#6B6ECF", "#B5CF6B", "#E7969C", "#7B4173", "#3182BD", "#A55194")

    def exchange_color(self, code: str) -> str:
        # crc32, not hash(): the colour of an unknown exchange must not change between runs
        fallback = self.fallback_colors[zlib.crc32(code.encode()) % len(self.fallback_colors)]
        return self.exchange_colors.get(code, fallback)


STYLE = ChartStyle()


def _axis_usd(value: float) -> str:
    # axis ticks are round numbers: $50M, not $50.0M
    return usd(value).replace(".0", "").replace("-", "−") if value else "$0"


USD_AXIS = FuncFormatter(lambda value, _: _axis_usd(value))
ABS_USD_AXIS = FuncFormatter(lambda value, _: _axis_usd(abs(value)))


def new_figure(height_in: float | None = None, rows: int = 1, sharex: bool = False):
    figure = Figure(figsize=(STYLE.width_in, height_in or STYLE.height_in), dpi=STYLE.dpi,
                    facecolor="white", layout="constrained")
    axes = figure.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    for ax in axes:
        ax.set_facecolor("white")
        ax.tick_params(labelsize=STYLE.font_size - 1, colors=STYLE.text)
        ax.grid(axis="y", color=STYLE.grid, linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return figure, axes


def literal(text: str) -> str:
    """Codes come from the API: a '$' in one must print as '$', not start matplotlib's math mode."""
    return text.replace("$", r"\$")


def _title(ax, title: str) -> None:
    ax.set_title(literal(title), fontsize=STYLE.font_size + 1.5, loc="left", color=STYLE.text,
                 fontweight="bold")


def _legend(figure: Figure, ax, handles=None, labels=None) -> None:
    """One row under the plot, so the plot keeps the full column width (and a 390 px phone can read it)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 3),
                      fontsize=STYLE.font_size - 1, frameon=False)


def png_bytes(figure: Figure) -> bytes:
    """2x PNG on a solid white background, reduced to a 256-colour palette: flat chart colours survive it,
    and the files are about a third of the size (they are embedded in the HTML and attached to mail)."""
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=STYLE.dpi * STYLE.export_scale, facecolor="white",
                   transparent=False, pil_kwargs={"compress_level": 1})
    rendered.seek(0)
    with Image.open(rendered) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.NONE)
    output = io.BytesIO()
    palette.save(output, format="PNG")
    return output.getvalue()


def _no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=STYLE.font_size + 1, color=STYLE.previous)


def daily_long_short(rows: list[dict], asset: str, words: PeriodWords = WEEK_WORDS) -> Figure:
    """Mirrored daily bars: shorts above the axis, longs below; last period's days as outlines."""
    figure, (ax,) = new_figure()
    _title(ax, f"{asset.upper()} liquidations per day, long vs short")
    positions = list(range(len(rows)))
    shorts = [row["short_amount"] or 0 for row in rows]
    longs = [-(row["long_amount"] or 0) for row in rows]
    ax.bar(positions, shorts, width=0.62, color=STYLE.short, label=f"Short ({words.this})")
    ax.bar(positions, longs, width=0.62, color=STYLE.long, label=f"Long ({words.this})")
    previous_short = [row["previous_short_amount"] for row in rows]
    previous_long = [row["previous_long_amount"] for row in rows]
    if any(value is not None for value in previous_short + previous_long):
        ax.bar(positions, [value or 0 for value in previous_short], width=0.86, fill=False,
               edgecolor=STYLE.previous, linewidth=0.9, linestyle="--", label=words.same_day)
        ax.bar(positions, [-(value or 0) for value in previous_long], width=0.86, fill=False,
               edgecolor=STYLE.previous, linewidth=0.9, linestyle="--")
    _mark_missing_positions(ax, [i for i, row in enumerate(rows) if not row["hours_covered"]], width=0.86)
    ax.axhline(0, color=STYLE.text, linewidth=0.8)
    ax.set_xticks(positions, [row["day"].strftime("%a\n%d %b") for row in rows])
    ax.yaxis.set_major_formatter(ABS_USD_AXIS)
    ax.set_ylabel("USD liquidated (longs below 0)", fontsize=STYLE.font_size)
    ax.set_xlabel("Day (UTC)", fontsize=STYLE.font_size)
    _legend(figure, ax)
    return figure


def _mark_missing_positions(ax, positions: list[int], width: float) -> None:
    for position in positions:
        ax.axvspan(position - width / 2, position + width / 2, facecolor="none", edgecolor=STYLE.missing,
                   hatch="///", linewidth=0)
    if positions:
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor="none", edgecolor=STYLE.missing, hatch="///",
                               linewidth=0, label="No data (not zero)"))


def hourly_timeline(rows: list[dict], asset: str, spike_hours: tuple = ()) -> Figure:
    """Every hour of the week mirrored long/short; hours without data are hatched, never drawn as zero."""
    figure, (ax,) = new_figure(height_in=3.0)
    _title(ax, f"{asset.upper()} liquidations per hour (UTC)")
    if not rows:
        _no_data(ax, "No hours in this period")
        return figure
    start = rows[0]["hour"]
    offsets = [(row["hour"] - start) / timedelta(hours=1) for row in rows]
    # rpt_hourly_timeline has a row for every hour of the period, so filled stairs draw the same picture as
    # 168 one-hour bars at less than half the cost (a Rectangle per bar is what makes bar() slow).
    edges = [*offsets, offsets[-1] + 1]
    ax.stairs([row["short_amount"] or 0 for row in rows], edges, fill=True, color=STYLE.short, label="Short")
    ax.stairs([-(row["long_amount"] or 0) for row in rows], edges, fill=True, color=STYLE.long, label="Long")
    missing = [offset for offset, row in zip(offsets, rows, strict=True) if not row["is_covered"]]
    for offset in missing:
        ax.axvspan(offset, offset + 1, facecolor="#EEEEEE", edgecolor=STYLE.missing, hatch="////",
                   linewidth=0)
    spikes = set(spike_hours)
    spike_offsets = [offset for offset, row in zip(offsets, rows, strict=True) if row["hour"] in spikes]
    if spike_offsets:
        top = max((row["short_amount"] or 0) for row in rows) or 1
        ax.plot([offset + 0.5 for offset in spike_offsets], [top * 1.08] * len(spike_offsets), "v",
                color=STYLE.text, markersize=5, label="Spike hour (robust z ≥ 3.5)")
    ax.axhline(0, color=STYLE.text, linewidth=0.6)
    days = int(offsets[-1] // 24) + 1
    ax.set_xticks([24 * day for day in range(days)],
                  [f"{start + timedelta(days=day):%a %d}" for day in range(days)], ha="left")
    ax.set_xlim(0, offsets[-1] + 1)
    ax.yaxis.set_major_formatter(ABS_USD_AXIS)
    ax.set_ylabel("USD per hour (longs below 0)", fontsize=STYLE.font_size)
    ax.set_xlabel("Hour of the week (UTC, ticks at 00:00)", fontsize=STYLE.font_size)
    handles, labels = ax.get_legend_handles_labels()
    if missing:
        handles.append(Patch(facecolor="#EEEEEE", edgecolor=STYLE.missing, hatch="////"))
        labels.append("No data (not zero)")
    _legend(figure, ax, handles, labels)
    return figure


def weekly_trend(rows: list[dict], asset: str) -> Figure:
    """Weekly totals, long and short stacked, over the trailing weeks; partial weeks hatched."""
    figure, (ax,) = new_figure()
    _title(ax, f"{asset.upper()} weekly liquidations, trailing {max(len(rows) - 1, 0)} weeks")
    positions = list(range(len(rows)))
    longs = [row["long_amount"] or 0 for row in rows]
    shorts = [row["short_amount"] or 0 for row in rows]
    edge = [STYLE.text if row["is_report_week"] else "none" for row in rows]
    ax.bar(positions, longs, width=0.7, color=STYLE.long, label="Long", edgecolor=edge, linewidth=1.2)
    ax.bar(positions, shorts, bottom=longs, width=0.7, color=STYLE.short, label="Short", edgecolor=edge,
           linewidth=1.2)
    top = max((lo + sh for lo, sh in zip(longs, shorts, strict=True)), default=0) or 1
    for position, row in enumerate(rows):
        if not row["hours_covered"]:
            ax.text(position, top * 0.03, "no coverage", ha="center", va="bottom", rotation=90,
                    fontsize=STYLE.font_size - 2, color=STYLE.previous)
        elif row["is_partial"]:
            ax.bar(position, longs[position] + shorts[position], width=0.7, fill=False, hatch="///",
                   edgecolor="white", linewidth=0)
            ax.text(position, longs[position] + shorts[position] + top * 0.02,
                    f"{row['hours_covered']}/{row['hours_in_week']} h", ha="center", va="bottom",
                    fontsize=STYLE.font_size - 2.5, color=STYLE.previous)
    ax.set_xticks(positions, [f"{row['week_start']:%d %b}" for row in rows], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(USD_AXIS)
    ax.set_ylabel("USD liquidated per week", fontsize=STYLE.font_size)
    ax.set_xlabel("ISO week starting Monday (UTC); outlined = this report; hatched = partial",
                  fontsize=STYLE.font_size)
    _legend(figure, ax)
    return figure


def exchange_share(rows: list[dict], asset: str, words: PeriodWords = WEEK_WORDS) -> Figure:
    """USD per exchange this week (in the exchange's colour) against last week (outline)."""
    height = max(2.2, 0.9 + 0.42 * len(rows))
    figure, (ax,) = new_figure(height_in=height)
    _title(ax, f"{asset.upper()} liquidations by exchange")
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=STYLE.grid, linewidth=0.8)
    if not rows:
        _no_data(ax, "No exchange reported liquidations")
        return figure
    ordered = list(reversed(rows))
    positions = list(range(len(ordered)))
    ax.barh([p + 0.18 for p in positions], [row["total_amount"] for row in ordered], height=0.36,
            color=[STYLE.exchange_color(row["exchange"]) for row in ordered], label="This week")
    ax.barh([p - 0.18 for p in positions], [row["previous_total_amount"] for row in ordered], height=0.36,
            fill=False, edgecolor=STYLE.previous, linestyle="--", label="Previous week")
    peak = max(max(row["total_amount"], row["previous_total_amount"]) for row in ordered) or 1
    for position, row in zip(positions, ordered, strict=True):
        share = f"{row['share'] * 100:.0f} %"
        notes = {"new": f"{share}, new {words.this}", "absent": f"absent {words.this}"}
        label = notes.get(row["status"], share)
        ax.text(row["total_amount"] + peak * 0.01, position + 0.18, label, va="center",
                fontsize=STYLE.font_size - 1.5, color=STYLE.text)
    ax.set_yticks(positions, [literal(exchange_name(row["exchange"])) for row in ordered])
    ax.set_xlim(0, peak * 1.3)
    ax.xaxis.set_major_formatter(USD_AXIS)
    ax.set_xlabel(f"USD liquidated (labels: share of {words.this})", fontsize=STYLE.font_size)
    ax.set_ylabel("Exchange", fontsize=STYLE.font_size)
    _legend(figure, ax, [Patch(facecolor=STYLE.previous), Patch(fill=False, edgecolor=STYLE.previous,
                                                                linestyle="--")],
            [f"{words.this.capitalize()} (exchange colour)", words.last.capitalize()])
    return figure


SESSIONS = (("Asia", 0, 8), ("Europe", 7, 16), ("US", 13, 21))  # UTC hours, overlapping like the markets


def hour_weekday(rows: list[dict], asset: str) -> Figure:
    """USD by weekday × hour of day (UTC); cells without a covered hour are grey, not zero."""
    figure, (ax,) = new_figure(height_in=3.3)
    ax.grid(False)
    _title(ax, f"{asset.upper()} liquidations by weekday and hour of day (UTC)")
    grid = [[float("nan")] * 24 for _ in range(7)]
    for row in rows:
        if row["hours_covered"]:
            grid[row["weekday"] - 1][row["hour_of_day"]] = row["total_amount"] or 0.0
    ax.add_patch(Rectangle((-0.5, -0.5), 24, 7, facecolor="#EEEEEE", edgecolor=STYLE.missing,
                           hatch="////", linewidth=0, zorder=0))
    # square-root colour scale: one extreme hour would otherwise flatten every other cell to the same colour
    image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest", zorder=1,
                      norm=PowerNorm(gamma=0.5, vmin=0))
    colorbar = figure.colorbar(image, ax=ax, pad=0.01, format=USD_AXIS)
    colorbar.set_label("USD liquidated (square-root scale)", fontsize=STYLE.font_size)
    colorbar.ax.tick_params(labelsize=STYLE.font_size - 1.5)
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(0, 24, 3), [f"{hour:02d}" for hour in range(0, 24, 3)])
    ax.set_xlabel("Hour of day (UTC); grey hatched = no data", fontsize=STYLE.font_size)
    ax.set_ylabel("Weekday", fontsize=STYLE.font_size)
    for index, (name, first, last) in enumerate(SESSIONS):
        y = -0.75 - 0.32 * index
        ax.plot([first - 0.5, last - 0.5], [y, y], color=STYLE.text, linewidth=1.5, clip_on=False)
        ax.text(last - 0.3, y, name, fontsize=STYLE.font_size - 2.5, va="center", clip_on=False)
    ax.set_ylim(6.5, -1.6)
    return figure


def daily_ratio(rows: list[dict], asset: str) -> Figure:
    """Long share of USD per day (top) and average liquidation size per day (bottom)."""
    figure, (top, bottom) = new_figure(height_in=3.8, rows=2, sharex=True)
    _title(top, f"{asset.upper()} long share and average liquidation size per day")
    positions = list(range(len(rows)))
    shares = [row["long_share"] for row in rows]
    top.axhline(0.5, color=STYLE.previous, linewidth=0.8, linestyle="--")
    top.plot([p for p, s in zip(positions, shares, strict=True) if s is not None],
             [s for s in shares if s is not None], marker="o", color=STYLE.long)
    top.set_ylim(0, 1)
    top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top.set_ylabel("Long share\nof USD", fontsize=STYLE.font_size)
    sizes = [row["average_size"] or 0 for row in rows]
    bottom.bar(positions, sizes, width=0.6, color=STYLE.previous)
    bottom.yaxis.set_major_formatter(USD_AXIS)
    bottom.set_ylabel("Average size\n(USD/event)", fontsize=STYLE.font_size)
    bottom.set_xticks(positions, [row["day"].strftime("%a\n%d %b") for row in rows])
    bottom.set_xlabel("Day (UTC); dashed line = 50 % long", fontsize=STYLE.font_size)
    for ax in (top, bottom):
        _mark_missing_positions(ax, [i for i, row in enumerate(rows) if not row["hours_covered"]], width=0.8)
    return figure


def cross_asset(rows: list[dict], words: PeriodWords = WEEK_WORDS) -> Figure:
    """Each asset's week, long and short stacked, largest first."""
    height = max(2.2, 0.9 + 0.4 * len(rows))
    figure, (ax,) = new_figure(height_in=height)
    _title(ax, f"Liquidations by asset {words.this}, long vs short")
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=STYLE.grid, linewidth=0.8)
    ordered = list(reversed(rows))
    positions = list(range(len(ordered)))
    longs = [row["long_amount"] or 0 for row in ordered]
    ax.barh(positions, longs, color=STYLE.long, label="Long", height=0.6)
    ax.barh(positions, [row["short_amount"] or 0 for row in ordered], left=longs, color=STYLE.short,
            label="Short", height=0.6)
    ax.set_yticks(positions, [literal(row["asset"].upper()) for row in ordered])
    ax.xaxis.set_major_formatter(USD_AXIS)
    ax.set_xlabel(f"USD liquidated {words.this}", fontsize=STYLE.font_size)
    ax.set_ylabel("Asset", fontsize=STYLE.font_size)
    _legend(figure, ax)
    return figure


def cumulative(rows: list[dict], asset: str) -> Figure:
    """Long and short USD added up hour by hour through the period: who was squeezed, and when."""
    figure, (ax,) = new_figure(height_in=2.8)
    _title(ax, f"{asset.upper()} cumulative liquidations through the week, long vs short")
    if not rows:
        _no_data(ax, "No hours in this period")
        return figure
    hours = [row["hour"] for row in rows] + [rows[-1]["hour"] + timedelta(hours=1)]
    # the line stops where the data stops: a flat line through missing hours would read as "no liquidations"
    def running(key: str) -> list[float]:
        return [0.0] + [row[key] if row["is_covered"] else float("nan") for row in rows]

    longs, shorts = running("cumulative_long_amount"), running("cumulative_short_amount")
    ax.step(hours, longs, where="post", color=STYLE.long, linewidth=2, label="Long, cumulative")
    ax.step(hours, shorts, where="post", color=STYLE.short, linewidth=2, label="Short, cumulative")
    missing = [row["hour"] for row in rows if not row["is_covered"]]
    for hour in missing:
        ax.axvspan(hour, hour + timedelta(hours=1), facecolor="#EEEEEE", edgecolor=STYLE.missing,
                   hatch="////", linewidth=0)
    handles, labels = ax.get_legend_handles_labels()
    if missing:
        handles.append(Patch(facecolor="#EEEEEE", edgecolor=STYLE.missing, hatch="////"))
        labels.append("No data (not zero)")
    days = sorted({row["hour"].replace(hour=0) for row in rows if row["hour"].hour == 0})
    ax.set_xticks(days, [day.strftime("%a %d") for day in days], ha="left")
    ax.set_xlim(hours[0], hours[-1])
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(USD_AXIS)
    ax.set_ylabel("USD since the start", fontsize=STYLE.font_size)
    ax.set_xlabel("Time (UTC, ticks at 00:00)", fontsize=STYLE.font_size)
    _legend(figure, ax, handles, labels)
    return figure


def exchange_day(rows: list[dict], asset: str, days: tuple = ()) -> Figure:
    """USD per exchange × day: many venues lit on one day is a cascade, one venue alone is a local event."""
    exchanges = sorted({(row["exchange_rank"], row["exchange"]) for row in rows})
    days = sorted(set(days) | {row["day"] for row in rows})
    figure, (ax,) = new_figure(height_in=max(2.0, 1.1 + 0.32 * len(exchanges)))
    ax.grid(False)
    _title(ax, f"{asset.upper()} liquidations by exchange and day")
    if not rows:
        _no_data(ax, "No exchange reported liquidations")
        return figure
    cell = {(row["exchange"], row["day"]): row["total_amount"] for row in rows}
    grid = [[cell.get((code, day), float("nan")) for day in days] for _, code in exchanges]
    ax.add_patch(Rectangle((-0.5, -0.5), len(days), len(exchanges), facecolor="#EEEEEE",
                           edgecolor=STYLE.missing, hatch="////", linewidth=0, zorder=0))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest", zorder=1,
                      norm=PowerNorm(gamma=0.5, vmin=0))
    peak = max((value for line in grid for value in line if value == value), default=0) or 1
    for y, line in enumerate(grid):
        for x, value in enumerate(line):
            if value == value and value > 0:
                ax.text(x, y, _axis_usd(value), ha="center", va="center", fontsize=STYLE.font_size - 2.5,
                        color="black" if value > 0.55 * peak else "white")
    colorbar = figure.colorbar(image, ax=ax, pad=0.01, format=USD_AXIS)
    colorbar.set_label("USD (square-root scale)", fontsize=STYLE.font_size - 1)
    colorbar.ax.tick_params(labelsize=STYLE.font_size - 2)
    ax.set_yticks(range(len(exchanges)), [literal(exchange_name(code)) for _, code in exchanges])
    ax.set_xticks(range(len(days)), [day.strftime("%a\n%d %b") for day in days])
    ax.set_xlabel("Day (UTC); grey hatched = no data", fontsize=STYLE.font_size)
    return figure


CHARTS = {
    "cumulative": cumulative,
    "exchange_day": exchange_day,
    "daily": daily_long_short,
    "hourly": hourly_timeline,
    "trend": weekly_trend,
    "exchanges": exchange_share,
    "heatmap": hour_weekday,
    "ratio": daily_ratio,
    "cross_asset": cross_asset,
}


def render_png(kind: str, args: tuple, kwargs: dict) -> bytes:
    """Top-level (picklable) entry for worker processes: build one chart and return its PNG."""
    return png_bytes(CHARTS[kind](*args, **kwargs))
