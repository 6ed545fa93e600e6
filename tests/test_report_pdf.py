"""The PDF a compliance archive keeps, checked on WeasyPrint's own page boxes: page count, tables that split
with at least 3 rows a side and their header repeated, no heading alone at a page bottom, no near-empty last
page, no empty column, the verdict on page 1."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime

import html5lib
import pytest
from weasyprint.formatting_structure import boxes

from report.palette import PALETTE
from report.render import report as report_module
from report.render import summary as summary_module
from report.render.pdf import layout
from report.templating import environment

XHTML = "{http://www.w3.org/1999/xhtml}"
HEADINGS = {"h1", "h2", "h3", "caption", "figcaption"}
EMPTY = {"", "–", "n/a"}


@pytest.fixture(scope="module")
def pages(demo_week):
    """The demo report's PDF as WeasyPrint lays it out: the page boxes of the very document written."""
    gathered = report_module.gather(demo_week.settings, demo_week.period)
    drawn = report_module.render_charts(gathered.charts)
    report_summary = summary_module.build_summary(
        demo_week.settings, demo_week.period, gathered.data, gathered.overview, gathered.charts,
        gathered.order, demo=True, generated_at=datetime.now(UTC), files=demo_week.summary["files"])
    html = report_module.render("report.html", report_module.page_context(gathered, drawn, report_summary,
                                                                          images=True))
    return [page._page_box for page in layout(html).pages]


def content(page_box) -> list:
    """The page's own boxes, without its margin boxes (running header and footer)."""
    roots = [child for child in page_box.children if not isinstance(child, boxes.MarginBox)]
    return [box for root in roots for box in root.descendants()]


def bottom(box) -> float:
    return box.position_y + box.margin_height() if hasattr(box, "margin_height") else box.position_y


def texts(page_box) -> str:
    return " ".join(" ".join(box.text for box in content(page_box) if isinstance(box, boxes.TextBox)).split())


def table_pieces(all_pages) -> dict:
    """table element → [(page number, body rows on that page, header repeated?)]"""
    pieces: dict = {}
    for number, page_box in enumerate(all_pages, start=1):
        for box in content(page_box):
            if isinstance(box, boxes.TableBox):
                rows = sum(len(group.children) for group in box.children if not group.is_header)
                header = any(group.is_header and group.children for group in box.children)
                pieces.setdefault(id(box.element), []).append((number, rows, header))
    return pieces


def test_pdf_has_at_most_three_pages_an_asset_plus_three(pages, demo_week):
    with_data = [entry for entry in demo_week.summary["assets"] if entry["total_amount"] > 0]
    assert len(pages) <= 3 * len(with_data) + 3
    if shutil.which("pdfinfo"):  # the file written is this layout
        info = subprocess.run(["pdfinfo", str(demo_week.folder / "report.pdf")], capture_output=True,
                              text=True, check=True).stdout
        assert re.search(r"^Pages:\s+(\d+)$", info, re.M)[1] == str(len(pages))
    # each asset starts a page of its own and needs at most three
    headings = {number: [texts_of(box) for box in content(page) if isinstance(box, boxes.BlockBox)
                         and box.element_tag == "h2"] for number, page in enumerate(pages, start=1)}
    starts = {entry["asset"]: next(number for number, titles in headings.items()
                                   if f"{entry['asset'].upper()} {usd_text(entry)} ·" in " ".join(titles))
              for entry in with_data}
    ordered = sorted(starts.values())
    assert ordered == sorted(set(ordered))
    spans = [later - earlier for earlier, later in zip(ordered, [*ordered[1:], len(pages)], strict=True)]
    assert max(spans) <= 3


def usd_text(entry: dict) -> str:
    from report.formatting import usd

    return usd(entry["total_amount"])


def test_the_verdict_is_on_page_one(pages, demo_week):
    # the side's words are their own coloured box: "64% short" + "; BTC…" join as "64% short ; BTC…"
    page_one = re.sub(r" (?=[;,.])", "", texts(pages[0]))
    assert demo_week.summary["overview"]["verdict"] in page_one


def test_tables_split_with_three_rows_a_side_and_their_header_repeated(pages):
    for pieces in table_pieces(pages).values():
        assert all(header for _, _, header in pieces)
        if len(pieces) > 1:
            first = pieces[0][0]
            assert [number for number, _, _ in pieces] == list(range(first, first + len(pieces)))
            assert all(rows >= 3 for _, rows, _ in pieces), pieces


def test_print_css_keeps_three_rows_on_each_side_of_any_table_break():
    """A table longer than a page, at every length where the break would strand one or two rows."""
    template = environment().from_string(
        '{% extends "base.html" %}{% block content %}<div class="block"><table><caption>Rows</caption>'
        "<thead><tr><th>n</th><th>USD</th></tr></thead><tbody>"
        "{% for i in range(rows) %}<tr><td>{{ i }}</td><td>$1.00M</td></tr>{% endfor %}"
        "</tbody></table></div>{% endblock %}")
    for rows in range(50, 62):
        document = layout(template.render(style=PALETTE, demo=False, rows=rows))
        laid = [page._page_box for page in document.pages]
        (pieces,) = table_pieces(laid).values()
        assert sum(count for _, count, _ in pieces) == rows
        assert all(count >= 3 and header for _, count, header in pieces), (rows, pieces)


def test_print_css_keeps_each_heading_with_what_follows_it():
    """A heading and a table after a run of lines, at every offset that puts the heading at a page bottom."""
    template = environment().from_string(
        '{% extends "base.html" %}{% block content %}'
        "{% for i in range(lines) %}<p>line {{ i }}</p>{% endfor %}"
        '<h3>Heading</h3><div class="block"><table><caption>Table</caption><thead><tr><th>n</th></tr></thead>'
        "<tbody>{% for i in range(8) %}<tr><td>{{ i }}</td></tr>{% endfor %}</tbody></table></div>"
        "{% endblock %}")
    for lines in range(30, 52):
        document = layout(template.render(style=PALETTE, demo=False, lines=lines))
        for number, page in enumerate(document.pages, start=1):
            assert_no_lonely_heading(number, page._page_box)


def assert_no_lonely_heading(number: int, page_box) -> None:
    boxes_here = content(page_box)
    flow = [box for box in boxes_here
            if isinstance(box, boxes.LineBox | boxes.TableRowBox | boxes.ReplacedBox)]
    headings = [box for box in boxes_here if isinstance(box, boxes.BlockBox) and box.element_tag in HEADINGS]
    for heading in headings:
        below = [box for box in flow
                 if box.position_y >= bottom(heading) - 0.5 and box.element_tag not in HEADINGS]
        assert below, f"page {number}: {heading.element_tag} {texts_of(heading)[:60]!r} ends the page"


def test_no_heading_is_left_alone_at_a_page_bottom(pages):
    for number, page_box in enumerate(pages, start=1):
        assert_no_lonely_heading(number, page_box)


def texts_of(box) -> str:
    words = " ".join(child.text for child in box.descendants() if isinstance(child, boxes.TextBox))
    return " ".join(words.split())


def test_the_last_page_is_not_nearly_empty(pages):
    last = pages[-1]
    used = max(bottom(box) for box in content(last) if isinstance(box, boxes.LineBox | boxes.TableRowBox))
    top = last.content_box_y()
    assert (used - top) / last.height > 0.25


def test_no_table_has_a_column_without_a_value(demo_week):
    tree = html5lib.parse(demo_week.html)
    for table in tree.iter(f"{XHTML}table"):
        body = [row for group in table.iter(f"{XHTML}tbody") for row in group.iter(f"{XHTML}tr")]
        cells = [[" ".join("".join(cell.itertext()).split()) for cell in row if cell.tag == f"{XHTML}td"]
                 for row in body]
        width = max(len(row) for row in cells)
        for column in range(width):
            values = {row[column] for row in cells if len(row) == width}
            assert values - EMPTY, (table.get("id"), column)


# Chart labels as matplotlib writes them (one x, one y, an anchor, a no-op rotation; a two-line day label as
# two translated texts), one with a per-glyph dx list (WeasyPrint's own path), a bold one and one with '$'
# and a minus sign.
LABELS_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="300pt" height="120pt" viewBox="0 0 300 120">'
    '<path d="M 150 0 L 150 120" stroke="#000" stroke-width="0.5"/>'
    '<text x="150" y="20" transform="rotate(-0 150 20)" font-size="10.5px" font-family="DejaVu Sans" '
    'text-anchor="start" fill="#1f2328">Binance (binc)</text>'
    '<text x="150" y="40" font-size="10.5px" font-family="DejaVu Sans" text-anchor="middle" '
    'fill="#b8460b">$100M −4.5%</text>'
    '<text x="150" y="60" font-size="10.5px" font-family="DejaVu Sans" text-anchor="end" '
    'fill="#1f2328">HTX (Huobi) (hbdm)</text>'
    '<text x="150" y="80" font-size="12px" font-family="DejaVu Sans" font-weight="bold" '
    'text-anchor="middle" fill="#1f2328">Mon 24 Feb</text>'
    '<text x="20" y="100" dx="0 4 4 4" font-size="10.5px" font-family="DejaVu Sans" fill="#1f2328">'
    'spaced</text>'
    '<text transform="translate(230 100)" font-size="10.5px" font-family="DejaVu Sans">Mon</text>'
    '<text transform="translate(232 112)" font-size="10.5px" font-family="DejaVu Sans">24</text>'
    '</svg>')


def labels_page() -> str:
    import base64

    uri = "data:image/svg+xml;base64," + base64.b64encode(LABELS_SVG.encode()).decode("ascii")
    return f'<html><body><img src="{uri}" style="width: 300pt"></body></html>'


def test_chart_labels_drawn_as_one_run_land_where_weasyprint_draws_them_letter_by_letter(tmp_path):
    """The PDF's chart texts are laid out once a label (render/pdf.py): same place, same glyphs, same anchor
    as WeasyPrint's own letter-by-letter drawing, which keeps the texts it cannot draw as one run."""
    import weasyprint.svg
    from PIL import Image, ImageChops

    from report.render.pdf import one_run_svg_text

    if not shutil.which("pdftoppm"):
        pytest.skip("needs poppler-utils' pdftoppm")
    document = layout(labels_page())
    document.write_pdf(tmp_path / "letters.pdf", uncompressed_pdf=True)
    with one_run_svg_text():
        document.write_pdf(tmp_path / "runs.pdf", uncompressed_pdf=True)
    assert weasyprint.svg.TAGS["text"] is weasyprint.svg.text  # WeasyPrint's own drawing is back after it

    def text_matrices(name: str) -> int:  # one `Tm` a drawn run: a letter each, or a label each
        return len(re.findall(rb" Tm\b", (tmp_path / name).read_bytes()))

    # the six plain labels (52 letters; a space is not drawn) become six runs; "spaced" (dx list) stays
    # 6 letters
    assert text_matrices("letters.pdf") == 52 + 6
    assert text_matrices("runs.pdf") == 6 + 6

    def raster(name: str) -> Image.Image:
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / name),
                        str(tmp_path / name)], check=True)
        return Image.open(tmp_path / f"{name}.png").convert("L")

    letters, runs = raster("letters.pdf"), raster("runs.pdf")

    def dark(image: Image.Image) -> int:
        return image.point(lambda value: 255 if value > 128 else 0).histogram()[255]

    ink, moved = dark(ImageChops.invert(letters)), dark(ImageChops.difference(letters, runs))
    assert ink > 500
    assert moved < 0.05 * ink, (moved, ink)  # kerning and anti-aliasing only; a label 3 pt off moves ~all


def test_an_untested_weasyprint_keeps_its_own_letter_by_letter_drawing(monkeypatch):
    """The one-run drawing uses WeasyPrint's internals: on a major it was not tested with, it stays off."""
    import weasyprint
    import weasyprint.svg

    from report.render.pdf import one_run_supported, one_run_svg_text

    assert one_run_supported()  # the version CI installs is the one it was written against
    monkeypatch.setattr(weasyprint, "__version__", "99.0")
    own = weasyprint.svg.TAGS["text"]
    with one_run_svg_text():
        assert weasyprint.svg.TAGS["text"] is own
