"""The report and the site index in a real browser (Playwright driving Debian's chromium) at a 390 px phone
and a 1280 × 800 desktop: nothing wider than the screen, chart text readable, the verdict on the first screen.

Skipped only when no chromium is installed here; CI installs it and sets LIQREPORT_REQUIRE_BROWSER=1, which
turns a missing browser into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from report.deliver.site import publish

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("LIQREPORT_REQUIRE_BROWSER") == "1"
PHONE, DESKTOP = (390, 800), (1280, 800)

# every element whose box reaches past the right edge (or starts left of 0) of the viewport
PAST_THE_EDGE = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => { const r = e.getBoundingClientRect();
                 return r.width > 0 && r.height > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5); })
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
           + (typeof e.className === 'string' && e.className ? '.' + e.className : ''))"""
# the size text is drawn at, in CSS px: HTML text its computed size, SVG text its size times the chart's scale
TEXT_SIZES = """() => {
  const sizes = [];
  for (const e of document.querySelectorAll('body *')) {
    if (e.closest('svg')) continue;
    if (![...e.childNodes].some(c => c.nodeType === 3 && c.textContent.trim())) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    sizes.push(['html', e.tagName.toLowerCase(), parseFloat(getComputedStyle(e).fontSize),
                e.textContent.trim().slice(0, 30)]);
  }
  for (const t of document.querySelectorAll('svg text')) {
    const scale = t.getScreenCTM().a;
    sizes.push(['svg', t.closest('figure').id, parseFloat(getComputedStyle(t).fontSize) * scale,
                t.textContent.slice(0, 30)]);
  }
  return sizes;
}"""


# every table header cell whose computed alignment differs from the body cells of its column
MISALIGNED_HEADERS = """() => {
  const found = [];
  for (const table of document.querySelectorAll('table')) {
    const heads = table.querySelectorAll('thead tr:last-child th');
    for (const row of table.querySelectorAll('tbody tr')) {
      if (row.cells.length !== heads.length) continue;
      heads.forEach((th, i) => {
        const want = getComputedStyle(row.cells[i]).textAlign, got = getComputedStyle(th).textAlign;
        if (want !== got) found.push([table.closest('[id]')?.id, th.textContent.trim(), got, want]);
      });
    }
  }
  return [...new Set(found.map(JSON.stringify))].map(JSON.parse);
}"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail(f"LIQREPORT_REQUIRE_BROWSER=1 but there is no chromium at {CHROMIUM}")
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRED:
            raise
        pytest.skip("Playwright is not installed: pip install 'liqreport[dev]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, path: Path, viewport: tuple[int, int]):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(path.as_uri())
    return page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_nothing_in_the_report_is_wider_than_the_screen(browser, demo_week, viewport):
    page = open_page(browser, demo_week.folder / "report.html", viewport)
    try:
        assert page.evaluate(PAST_THE_EDGE) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        charts = page.evaluate("document.querySelectorAll('figure svg.chart-svg').length")
        assert charts == len(demo_week.summary["charts"])
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_every_text_and_chart_label_is_at_least_10_css_px(browser, demo_week, viewport):
    page = open_page(browser, demo_week.folder / "report.html", viewport)
    try:
        sizes = page.evaluate(TEXT_SIZES)
    finally:
        page.close()
    chart_labels = [size for size in sizes if size[0] == "svg"]
    assert len(chart_labels) > 20 * len(demo_week.summary["charts"]) // 2
    small = [size for size in sizes if size[2] < 10]
    assert small == []


def test_every_table_header_is_aligned_like_its_column(browser, demo_week):
    # the cross-asset spike table's 'Assets' header sat right-aligned over left-aligned asset names
    page = open_page(browser, demo_week.folder / "report.html", DESKTOP)
    try:
        assert page.locator("#joint-spikes thead th").count() == 5  # the demo week has joint spikes
        assert page.evaluate(MISALIGNED_HEADERS) == []
    finally:
        page.close()


def test_the_first_screen_answers_the_four_questions(browser, demo_week):
    """At 1280 × 800, without scrolling: the verdict, the market by exchange, the long share per week and
    the hours when assets spiked together."""
    page = open_page(browser, demo_week.folder / "report.html", DESKTOP)
    try:
        boxes = {name: page.locator(selector).first.bounding_box() for name, selector in {
            "verdict": "#verdict", "exchanges": "#chart-all_market_exchanges svg",
            "long share": "#chart-all_long_share_weeks svg", "spikes": "#joint-spikes caption"}.items()}
        verdict = page.locator("#verdict").inner_text()
    finally:
        page.close()
    for name, box in boxes.items():
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP[1], (name, box)
    assert verdict == demo_week.summary["overview"]["verdict"]


def test_the_verdict_is_on_the_first_screen_of_a_phone(browser, demo_week):
    page = open_page(browser, demo_week.folder / "report.html", PHONE)
    try:
        box = page.locator("#verdict").bounding_box()
    finally:
        page.close()
    assert box["y"] + box["height"] <= PHONE[1]


def test_the_site_index_fits_a_phone(browser, demo_week, tmp_path):
    index = publish(demo_week.folder.parent, tmp_path / "site")
    page = open_page(browser, index, PHONE)
    try:
        assert page.evaluate(PAST_THE_EDGE) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        # the columns a phone used to cut off are on the screen, each labelled
        cells = {label: page.locator(f'tr.report td[data-label="{label}"]').first
                 for label in ("Long share", "Files")}
        boxes = {label: cell.bounding_box() for label, cell in cells.items()}
        labels = {label: cell.evaluate("e => getComputedStyle(e, '::before').content")
                  for label, cell in cells.items()}
        pdf_link = page.locator("tr.report td.files a", has_text="PDF").first.bounding_box()
    finally:
        page.close()
    for label, box in boxes.items():
        assert box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0], label
        assert label in labels[label]
    assert pdf_link["x"] + pdf_link["width"] <= PHONE[0]
