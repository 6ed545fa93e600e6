"""Chart geometry, given rows in and the figure out: where the marks land, what the legend shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from report.render import charts

START = datetime(2025, 2, 24)


def hours(**overrides: tuple[float, float]) -> list[dict]:
    """168 covered hours of 1M short and 1M long; `h<offset>=(short, long)` sets one hour."""
    rows = []
    for k in range(168):
        short, long = overrides.get(f"h{k}", (1e6, 1e6))
        rows.append({"hour": START + timedelta(hours=k), "is_covered": True, "short_amount": short,
                     "long_amount": long})
    return rows


def markers(figure, symbol: str) -> list[tuple[float, float]]:
    # the liquidation bars' plot area (charts.Plot); the price line has one of its own
    ax = next(artist for artist in figure.artists if isinstance(artist, charts.Plot))
    return [(x, y) for line in ax.lines if line.get_marker() == symbol
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)]


def test_spike_markers_of_consecutive_hours_sit_beyond_the_runs_tallest_bar():
    # SOL on Fri 14–16h: the 15:00 and 16:00 markers sat inside the taller 14:00 bar beside them
    rows = hours(h110=(30e6, 1e6), h111=(12e6, 1e6), h112=(8e6, 1e6), h113=(25e6, 1e6), h40=(1e6, 9e6))
    spikes = tuple(START + timedelta(hours=k) for k in (111, 112, 40))
    figure = charts.hourly_mirrored(rows, spike_hours=spikes)
    up = markers(figure, "^")
    assert [round(x - 0.5) for x, _ in up] == [111, 112]  # each spike keeps its own hour
    assert len({y for _, y in up}) == 1  # one height for the run
    assert all(y > 30e6 for _, y in up)  # beyond the tallest bar within an hour of the run (14:00's 30M)
    (down,) = markers(figure, "v")
    assert down[0] == 40.5 and down[1] < -9e6


def test_the_spike_legend_shows_each_marker_the_chart_draws():
    def legend_markers(figure) -> set[str]:
        return {artist.get_marker() for artist in figure.artists if hasattr(artist, "get_marker")}

    both = hours(h40=(1e6, 9e6), h90=(9e6, 1e6))
    two_sided = charts.hourly_mirrored(both, spike_hours=(START + timedelta(hours=40),
                                                          START + timedelta(hours=90)))
    assert legend_markers(two_sided) == {"^", "v"}
    longs_only = charts.hourly_mirrored(both, spike_hours=(START + timedelta(hours=40),))
    assert legend_markers(longs_only) == {"v"}
    assert legend_markers(charts.hourly_mirrored(both)) == set()


def test_a_plot_places_marks_where_an_axes_with_the_same_limits_would():
    """charts.Plot stands in for an Axes (axis off): the same data, axes and blended transforms, inverted
    limits included, so every chart drew the same SVG without an Axes' ticks and spines."""
    from matplotlib.figure import Figure

    bounds = (0.13, 0.2, 0.8, 0.7)
    for xlim, ylim in (((-0.6, 6.4), (-3e6, 5e6)), ((-0.5, 6.5), (4.5, -0.5))):
        figure = Figure(figsize=(4.8, 2.3), dpi=72)
        ax = figure.add_axes(bounds)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        plot = charts.Plot(figure, bounds)
        plot.set_xlim(*xlim)
        plot.set_ylim(*ylim)
        points = [(xlim[0], ylim[0]), (3.2, 1.5e6 if ylim[0] < 0 else 2.0), (xlim[1], ylim[1])]
        for mine, theirs in ((plot.transData, ax.transData), (plot.transAxes, ax.transAxes),
                             (plot.get_xaxis_transform(), ax.get_xaxis_transform()),
                             (plot.get_yaxis_transform(), ax.get_yaxis_transform())):
            assert mine.transform(points).round(6).tolist() == theirs.transform(points).round(6).tolist()
        line = plot.add_line(charts.Line2D([0, 1], [0, 1]))
        assert line.get_transform() == plot.transData and plot.lines == [line] and line in plot.get_children()


def test_labels_measured_once_for_all_charts_give_the_same_svg_and_png(monkeypatch):
    """One text-metrics cache for every chart (charts.TEXT_METRICS): what it returns for an SVG label and
    for the same label in a 2x PNG are different sizes, and each chart comes out byte for byte as with
    matplotlib's own per-figure cache."""
    import matplotlib.text

    rows = hours(h40=(1e6, 9e6), h90=(9e6, 1e6))
    spikes = (START + timedelta(hours=40),)

    def drawn():
        return charts.render("hourly", (rows,), {"spike_hours": spikes}, "t", True)

    monkeypatch.setattr(matplotlib.text, "_get_text_metrics_with_cache", charts._measure_text)
    own = drawn()
    monkeypatch.undo()
    assert matplotlib.text._get_text_metrics_with_cache is charts.shared_text_metrics
    charts.TEXT_METRICS.clear()
    assert drawn() == own  # every label measured
    kinds = {key[0].__name__ for key in charts.TEXT_METRICS}
    assert kinds == {"RendererSVG", "RendererAgg"}
    assert drawn() == own  # every label from the cache


def test_the_email_png_is_the_chart_at_twice_its_size_on_solid_white():
    """Agg's pixels straight to a 256-colour PNG (render/charts.py png_bytes): 960 px for the email's 480 px
    slot, opaque (dark-mode clients invert transparency), and the picture matplotlib itself would save."""
    import io

    from PIL import Image, ImageChops, ImageStat

    figure = charts.hourly_mirrored(hours(h40=(1e6, 9e6), h90=(9e6, 1e6)), spike_hours=(START,))
    with Image.open(io.BytesIO(charts.png_bytes(figure))) as png:
        assert png.mode == "P" and png.size == (960, round(figure.get_figheight() * 200))
        assert "transparency" not in png.info
        ours = png.convert("RGB")
    saved = io.BytesIO()
    figure.savefig(saved, format="png", dpi=200, facecolor="white")
    with Image.open(saved) as theirs:
        difference = ImageStat.Stat(ImageChops.difference(ours, theirs.convert("RGB")))
    assert max(difference.mean) < 1.0  # the palette's rounding only
    corners = {ours.getpixel(corner) for corner in ((0, 0), (959, 0), (0, ours.height - 1))}
    assert min(min(corners)) >= 250  # white, as near as the palette's octree keeps it (254)
