"""report.html → report.pdf through WeasyPrint (the optional `pdf` extra)."""

from __future__ import annotations

from contextlib import contextmanager
from math import inf
from pathlib import Path

from report.errors import RenderError


def require_weasyprint() -> None:
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        raise RenderError("PDF output needs WeasyPrint: pip install 'liqreport[pdf]'") from None


def layout(html: str):
    """The laid-out pages (weasyprint.Document): the PDF, and what the tests read page boxes from."""
    require_weasyprint()
    import weasyprint
    from weasyprint.urls import URLFetcher

    # the report is self-contained: printing it must never reach the network or the disk
    fetcher = URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print").render()


def write_pdf(html: str, pdf_path: Path) -> Path:
    document = layout(html)
    with one_run_svg_text():  # the charts are drawn (SVG images painted) while the PDF is written
        document.write_pdf(str(pdf_path))
    return pdf_path


# WeasyPrint draws every SVG <text> a letter at a time: one Pango layout for the whole string, then a layout
# and a re-layout for each letter, so that per-glyph x/y/dx/dy/rotate lists can move each one. The charts'
# ~500 labels are plain runs (one x, one y), and letter by letter they were a fifth of the PDF's CPU. A run
# with nothing to place glyph by glyph is laid out once and drawn as one line (Pango's own glyph advances,
# kerning included); any other text goes to WeasyPrint's own code.
GLYPH_PLACEMENT = ("dx", "dy", "rotate", "textLength", "letter-spacing", "display-anchor",
                   "dominant-baseline", "alignment-baseline", "direction")


def is_plain_run(node) -> bool:
    """One string at one place: an x and a y of one number each, or none (matplotlib places each line of a
    multi-line label by a translate() instead), and nothing that moves glyphs one by one."""
    if not node.text or any(node.get(name) is not None for name in GLYPH_PLACEMENT):
        return False
    return all(_one_number_or_none(node.get(axis)) for axis in ("x", "y"))


def _one_number_or_none(value: str | None) -> bool:
    if value is None:
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


# _draw_run reaches into WeasyPrint's internals, which move between major versions: on any other major the
# PDF keeps WeasyPrint's own (slower, always right) drawing.
ONE_RUN_WEASYPRINT_MAJORS = (70,)


def one_run_supported() -> bool:
    import weasyprint

    try:
        major = int(weasyprint.__version__.split(".")[0])
        import weasyprint.svg.text  # noqa: F401
        from weasyprint.draw.text import draw_emojis, draw_first_line  # noqa: F401
        from weasyprint.text.line_break import split_first_line  # noqa: F401
    except (ImportError, ValueError):
        return False
    return major in ONE_RUN_WEASYPRINT_MAJORS


@contextmanager
def one_run_svg_text():
    import weasyprint.svg as svg_module

    if not one_run_supported():
        yield
        return
    letter_by_letter = svg_module.TAGS["text"]

    def text(svg, node, font_size):
        if not is_plain_run(node):
            return letter_by_letter(svg, node, font_size)
        return _draw_run(svg, node, font_size)

    # draw_node recognises text elements by comparing TAGS[tag] with the module's `text`: swap both
    tags = [tag for tag, drawer in svg_module.TAGS.items() if drawer is letter_by_letter]
    svg_module.text = text
    svg_module.TAGS.update(dict.fromkeys(tags, text))
    try:
        yield
    finally:
        svg_module.text = letter_by_letter
        svg_module.TAGS.update(dict.fromkeys(tags, letter_by_letter))


def _draw_run(svg, node, font_size) -> None:
    """weasyprint.svg.text.text for one plain run: its style, bounding box and cursor, one layout."""
    from weasyprint.draw.text import draw_emojis, draw_first_line
    from weasyprint.matrix import Matrix
    from weasyprint.svg.bounding_box import extend_bounding_box
    from weasyprint.svg.text import TextBox
    from weasyprint.text.line_break import split_first_line

    style = _run_style(svg, node, font_size)
    pango_layout, _, _, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)
    # as WeasyPrint places a run's first letter: at its x and y, or where the text cursor is
    x, y = svg.cursor_position
    if node.get("x") is not None:
        x, svg.cursor_d_position[0] = float(node.get("x")), 0
    if node.get("y") is not None:
        y, svg.cursor_d_position[1] = float(node.get("y")), 0
    svg.cursor_position = x + width, y
    x, y = x + svg.cursor_d_position[0], y + svg.cursor_d_position[1]
    node.text_bounding_box = extend_bounding_box(
        node.text_bounding_box, ((x, y - baseline), (x + width, y - baseline + height)))

    svg.stream.push_state()
    fill, stroke = svg.set_graphical_state(node, font_size)
    svg.stream.begin_text()
    pango_layout.reactivate(style)
    svg.fill_stroke(fill, stroke, text=True)
    text_box = TextBox(pango_layout, style)
    text_box.baseline = baseline
    emojis = draw_first_line(svg.stream, text_box, "none", "none", Matrix(d=-1, e=x, f=y))
    svg.stream.end_text()
    svg.stream.pop_state()
    draw_emojis(svg.stream, style, x, y, emojis)


def _run_style(svg, node, font_size):
    """The style WeasyPrint's SVG text gives a node (its initial values, font family, style, weight, size)."""
    from weasyprint.css.properties import INITIAL_VALUES
    from weasyprint.svg.text import Style

    style = Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config
    style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
    style["font_style"] = node.get("font-style", "normal")
    weight = node.get("font-weight", 400)
    weight = {"normal": 400, "bold": 700}.get(weight, weight)
    try:
        style["font_weight"] = int(weight)
    except ValueError:
        style["font_weight"] = 400
    style["font_size"] = font_size
    return style
