"""Template escaping: exchange codes come from the API, so one carrying HTML or '$' must print as text.

The landing zone is written by hand (tests/landing_fixtures.py, the documented layout), built by the real
models and rendered by the real renderer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import html5lib
import pytest
from landing_fixtures import land_weeks, synthetic_rows

from report import pipeline
from report.periods import iso_week
from report.settings import Settings

WEEK = iso_week("2025-W09")
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
MATH = r"$\undefined{$"  # matplotlib would try to typeset this as math and fail
XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    output = tmp_path_factory.mktemp("hostile")
    start = WEEK.start - timedelta(weeks=4)
    rows = synthetic_rows("btc", start, WEEK.end, seed=3, skip_share=0.0,
                          exchanges=("binc", SCRIPT, ATTRIBUTE, MATH))
    land_weeks(output / "landing", "btc", start, WEEK.end, rows, source="kaiko")
    settings = Settings(output_dir=output, assets=("btc",), api_key="not-used", base_url="http://127.0.0.1:9")
    pipeline.build(settings, WEEK, log=lambda line: None)
    folder = pipeline.render(settings, WEEK, pdf=True, log=lambda line: None).parent
    return folder


def test_exchange_codes_carrying_html_are_escaped_in_the_report(hostile_report):
    html = (hostile_report / "report.html").read_text(encoding="utf-8")
    tree = html5lib.HTMLParser(strict=True).parse(html)
    assert not [node for node in tree.iter() if str(node.tag).endswith("}script")]  # HTML or inline SVG
    for node in tree.iter():
        assert not [name for name in node.keys() if str(name).lower().startswith("on")], node.tag
    assert not list(tree.iter(f"{XHTML}img"))  # charts are inline SVG: no image smuggled in by a code
    chart_texts = {node.text for node in tree.iter(f"{SVG}text")}
    assert {SCRIPT, ATTRIBUTE, MATH} <= chart_texts  # exchange names printed as text in the charts
    text = " ".join("".join(tree.iter(f"{XHTML}body").__next__().itertext()).split())
    assert SCRIPT in text and ATTRIBUTE in text and MATH in text  # shown to the reader as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html and "<img src=x" not in html


def test_hostile_codes_do_not_break_charts_pdf_or_summary(hostile_report):
    summary = json.loads((hostile_report / "summary.json").read_text(encoding="utf-8"))
    assert summary["demo"] is False  # every landed window says source "kaiko"
    # two on the first screen, whose exchange view stands in for the one asset's; four in its section
    assert len(summary["charts"]) == 6
    assert all((hostile_report / chart["file"]).stat().st_size > 2_000 for chart in summary["charts"])
    assert (hostile_report / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert summary["assets"][0]["dominant_exchange"] in ("binc", SCRIPT, ATTRIBUTE, MATH)
    assert datetime.fromisoformat(summary["generated_at"].replace("Z", "+00:00")) <= datetime.now(UTC)
