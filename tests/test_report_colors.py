"""Colours that keep their meaning on every screen and on paper: text contrast (WCAG 2, computed here),
long vs short apart in greyscale, the two side colours used for the sides only, side text in its side's hue.

The colour arithmetic (sRGB → luminance → contrast, sRGB → CIE Lab) is written out in this file, apart from
report/render/charts.py.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import html5lib
import pytest
from PIL import Image

from report.palette import PALETTE
from report.render import charts

XHTML = "{http://www.w3.org/1999/xhtml}"


def rgb(color: str) -> tuple[float, float, float]:
    color = color.lstrip("#")
    return tuple(int(color[index:index + 2], 16) / 255 for index in (0, 2, 4))


def channels(color) -> tuple[float, float, float]:
    return rgb(color) if isinstance(color, str) else tuple(color[:3])


def linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(color) -> float:
    red, green, blue = (linear(value) for value in channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first, second) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def lab(color: str) -> tuple[float, float, float]:
    red, green, blue = (linear(value) for value in rgb(color))
    x = (0.4124 * red + 0.3576 * green + 0.1805 * blue) / 0.95047
    y = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    z = (0.0193 * red + 0.1192 * green + 0.9505 * blue) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(first: str, second: str) -> float:
    return sum((a - b) ** 2 for a, b in zip(lab(first), lab(second), strict=True)) ** 0.5


@pytest.mark.parametrize("ink", ["long_ink", "short_ink", "ink", "muted"])
@pytest.mark.parametrize("background", ["#FFFFFF", PALETTE.soft])
def test_text_colours_reach_wcag_aa_on_the_page_backgrounds(ink, background):
    assert contrast(getattr(PALETTE, ink), background) >= 4.5


def test_heatmap_labels_reach_4_5_to_1_on_every_cell_colour():
    cmap = charts.STYLE.heat_cmap
    for step in range(101):
        cell = cmap(step / 100)
        assert contrast(charts.label_color(cell), cell) >= 4.5, step / 100


def test_every_label_in_a_drawn_heatmap_reads_on_its_cell():
    days = [date(2025, 2, 24 + day) for day in range(5)]
    rows = [{"exchange": code, "exchange_rank": rank, "day": day, "total_amount": amount,
             "share_of_exchange_week": amount / (4e6 + 9e6 + 5e7 + 2e5 + 1.5e7 * rank),
             "is_exchange_peak_day": day == days[rank % 5]}
            for rank, code in enumerate(("binc", "bbit", "okex", "drbt", "hbdm"), start=1)
            for day, amount in zip(days, (4e6, 9e6, 5e7, 2e5, 1.5e7 * rank), strict=True)]
    figure = charts.exchange_day_heatmap(rows, tuple(days))
    (ax,) = figure.axes
    (image,) = ax.get_images()
    grid = image.get_array()
    labels = [text for text in ax.texts if text.get_transform() == ax.transData]
    assert len(labels) == 5
    for label in labels:
        x, y = (round(value) for value in label.get_position())
        cell = image.cmap(image.norm(grid[y][x]))
        assert contrast(label.get_color(), cell) >= 4.5, label.get_text()


def test_a_small_venue_shows_its_own_pattern_in_the_heatmap():
    """Shade is the day's share of the exchange's week: Kraken's week shaped like Binance's, at a hundredth
    of the USD, gets the same shades (one global scale left it uniformly pale); the labels stay USD."""
    days = [date(2025, 2, 24) + timedelta(days=day) for day in range(7)]
    pattern = (1, 2, 8, 3, 1, 1, 4)
    rows = [{"exchange": code, "exchange_rank": rank, "day": day, "total_amount": scale * weight,
             "share_of_exchange_week": weight / sum(pattern), "is_exchange_peak_day": weight == 8}
            for rank, (code, scale) in enumerate((("binc", 1e7), ("krkn", 1e5)), start=1)
            for day, weight in zip(days, pattern, strict=True)]
    (ax,) = charts.exchange_day_heatmap(rows, tuple(days)).axes
    (image,) = ax.get_images()
    binance, kraken = ([image.cmap(image.norm(value)) for value in line] for line in image.get_array())
    assert binance == kraken and len(set(kraken)) == len(set(pattern))
    labels = sorted(text.get_text() for text in ax.texts if text.get_transform() == ax.transData)
    assert labels == ["800K", "80M"]


def test_long_and_short_are_far_apart_in_lightness():
    assert abs(lab(PALETTE.long)[0] - lab(PALETTE.short)[0]) >= 20


def test_long_and_short_bars_stay_apart_in_a_greyscale_print_of_a_chart():
    days = [date(2025, 2, 24) + timedelta(days=day) for day in range(7)]
    rows = [{"day": day, "hours_covered": 24, "long_amount": 4e6 + 1e6 * index, "short_amount": 3e6,
             "previous_long_amount": None, "previous_short_amount": None} for index, day in enumerate(days)]
    png = charts.png_bytes(charts.daily_mirrored(rows, previous_label="Same day last week"))
    image = Image.open(io.BytesIO(png)).convert("RGB")
    grey = image.convert("L")  # ITU-R 601 luma, as a greyscale printer driver does

    def grey_levels(color: str) -> list[int]:
        target = tuple(round(value * 255) for value in rgb(color))
        return [grey.getpixel(xy) for xy in ((x, y) for x in range(0, image.width, 3)
                                              for y in range(0, image.height, 3))
                if sum(abs(a - b) for a, b in zip(image.getpixel(xy), target, strict=True)) <= 12]

    longs, shorts = grey_levels(PALETTE.long), grey_levels(PALETTE.short)
    assert len(longs) > 500 and len(shorts) > 500  # both sides are drawn in their own colours
    assert min(shorts) - max(longs) >= 50  # short bars print light grey, long bars dark grey


def test_the_side_colours_mean_the_sides_and_nothing_else_in_any_chart(demo_week):
    sides = {PALETTE.long.lower(), PALETTE.short.lower(), PALETTE.short_ink.lower()}
    used = set()
    for chart in demo_week.summary["charts"]:
        svg = (demo_week.folder / chart["file"]).read_text()
        used |= {color.lower() for color in re.findall(r'(?:fill|stroke)="(#[0-9a-fA-F]{6})"', svg)}
    assert sides <= used
    others = used - sides
    assert others, "charts use neutral colours too"
    for color in others:
        for side in (PALETTE.long, PALETTE.short):
            assert delta_e(color, side) >= 25, (color, side)
    for color in (*PALETTE.heat, PALETTE.muted, PALETTE.missing, PALETTE.grid):
        assert min(delta_e(color, PALETTE.long), delta_e(color, PALETTE.short)) >= 25, color


def test_side_text_is_in_its_sides_colour(demo_week):
    """'47% long' is never printed in the short colour, nor the reverse (the DOGE bug of the old report)."""
    tree = html5lib.parse(demo_week.html)
    marked = [(node.get("class").split(), " ".join("".join(node.itertext()).split()))
              for node in tree.iter() if node.get("class") in ("long", "short")]
    assert len(marked) > 30
    for classes, text in marked:
        side = classes[0]
        assert re.fullmatch(rf"(\d+% |<1% )?{side}( liquidation)?", text), (side, text)
    css = demo_week.html.split("<style>")[1]
    assert f"--long: {PALETTE.long}" in css and f"--short-ink: {PALETTE.short_ink}" in css


def test_hours_without_data_are_a_light_hatch_not_a_black_block():
    """Every paint in a chart is a colour, none, or a url() to a pattern the chart defines: the hatch's own
    background fill="#f1f2f4" was once rewritten into a reference to a missing id, drawn black."""
    from datetime import datetime

    start = datetime(2025, 1, 6)
    rows = [{"hour": start + timedelta(hours=k), "is_covered": k >= 48, "long_amount": 1e6 * (k % 5),
             "short_amount": 2e6 * (k % 3)} for k in range(168)]
    svg, _ = charts.render("hourly", (rows,), {}, "btc_hourly", False)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    paints = re.findall(r'\b(?:fill|stroke)="([^"]*)"', svg)
    assert any(paint.startswith("url(") for paint in paints), "the missing hours are hatched"
    for paint in paints:
        reference = re.fullmatch(r"url\(#([\w-]+)\)", paint)
        assert (re.fullmatch(r"#[0-9a-fA-F]{6}", paint) or paint == "none"
                or (reference and reference[1] in ids)), paint
    pattern = svg[svg.index("<pattern"):svg.index("</pattern>")]
    assert f'fill="{PALETTE.missing_fill.lower()}"' in pattern.lower()
    # lighter than either side's bars: the hatch never outweighs the data
    assert luminance(PALETTE.missing_fill) > 0.85
    assert luminance(PALETTE.missing) > luminance(PALETTE.short) - 0.1


def test_the_verdict_and_each_asset_sentence_name_the_larger_side_in_its_colour(demo_week):
    """'59% long' or '53% short', as the tables say it — never '47% longs' in plain ink for a short week."""
    tree = html5lib.parse(demo_week.html)
    by_id = {node.get("id"): node for node in tree.iter() if node.get("id")}

    def larger_side(long_share: float) -> tuple[str, str]:
        side = "long" if long_share >= 0.5 else "short"
        return side, f"{round(100 * (long_share if side == 'long' else 1 - long_share))}% {side}"

    checked = [(by_id["verdict"], demo_week.summary["overview"]["long_share"])]
    for entry in demo_week.summary["assets"]:
        section = by_id.get(f"asset-{entry['asset']}")
        ledes = [node for node in section.iter(f"{XHTML}p") if node.get("class") == "lede"] if section else []
        if ledes:
            checked.append((ledes[0], entry["long_share"]))
    assert len(checked) >= 6
    for node, long_share in checked:
        side, phrase = larger_side(long_share)
        marked = [("".join(span.itertext()), span.get("class")) for span in node.iter(f"{XHTML}span")]
        assert marked == [(phrase, side)], (node.get("id"), marked)
        assert "longs" not in "".join(node.itertext())
