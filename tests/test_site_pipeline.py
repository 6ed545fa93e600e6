"""End to end: a week run through the real pipeline on the simulator, then published beside an older week.

One real run keeps the suite fast; ordering and history across many periods are covered in test_site.py.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote

import html5lib
import pytest
from test_email import write_report_folder

from report import pipeline
from report.periods import iso_week
from report.settings import Settings
from report.simulator import DEMO_API_KEY, running_simulator

XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    output = tmp_path_factory.mktemp("site-pipeline") / "output"
    with running_simulator(seed=5) as simulator:
        settings = Settings(base_url=simulator.base_url, api_key=DEMO_API_KEY, assets=("btc", "eth"),
                            output_dir=output)
        pipeline.run(settings, iso_week("2025-W09"), log=lambda line: None)
    # an older period already on the site (published by an earlier run) stays listed
    write_report_folder(settings.site_dir, "2025-W08", start="2025-02-17T00:00:00Z",
                        end="2025-02-24T00:00:00Z")
    index = pipeline.publish(settings, log=lambda line: None)
    return settings, index


def tree_digest(folder) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_pipeline_site_lists_both_weeks_newest_first_with_their_totals(published):
    settings, index = published
    document = html5lib.parse(index.read_text(), namespaceHTMLElements=True)
    rows = [row for row in document.iter(f"{XHTML}tr") if row.get("class") == "report"]
    assert [row.get("data-label") for row in rows] == ["2025-W09", "2025-W08"]
    for row in rows:
        summary = json.loads((settings.site_dir / row.get("data-label") / "summary.json").read_text())
        total = summary["totals"]["total_amount"]
        assert 1e6 <= total < 1e11
        scale, suffix = (1e9, "B") if total >= 1e9 else (1e6, "M")
        value = float(f"{total / scale:.3g}")  # three significant figures, written out here
        expected = f"${value:.0f}{suffix}" if value >= 100 else (
            f"${value:.1f}{suffix}" if value >= 10 else f"${value:.2f}{suffix}")
        assert row.find(f".//{XHTML}td[@class='number total']").text.strip() == expected
    for link in (anchor.get("href") for anchor in document.iter(f"{XHTML}a")):
        assert (settings.site_dir / unquote(link)).is_file(), link


def test_pipeline_site_copies_the_rendered_reports(published):
    settings, _ = published
    source = tree_digest(settings.reports_dir / "2025-W09")
    expected = {"report.html", "summary.json", "manifest.json", "charts/btc_daily.png", "data/daily.csv"}
    assert expected <= set(source)
    assert tree_digest(settings.site_dir / "2025-W09") == source
    assert not (settings.reports_dir / "2025-W08").exists() and (settings.site_dir / "2025-W08").is_dir()


def test_pipeline_publishing_again_changes_nothing(published):
    settings, _ = published
    before = {path: path.stat().st_mtime_ns for path in settings.site_dir.rglob("*") if path.is_file()}
    digest = tree_digest(settings.site_dir)
    pipeline.publish(settings, log=lambda line: None)
    assert tree_digest(settings.site_dir) == digest
    after = {path: path.stat().st_mtime_ns for path in settings.site_dir.rglob("*") if path.is_file()}
    assert after == before
