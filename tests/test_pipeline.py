"""The pipeline's steps chained as `liqreport run` chains them, on the simulator, into tmp_path."""

import json
import sys

import pytest

from report import pipeline
from report.errors import RenderError
from report.periods import iso_week
from report.settings import Settings
from report.simulator import running_simulator


def test_an_asset_asked_for_but_never_landed_is_a_coverage_warning_not_a_silent_pass(tmp_path):
    week = iso_week("2025-W20")
    with running_simulator() as sim:
        landed = Settings(api_key="k", base_url=sim.base_url, assets=("btc",), output_dir=tmp_path)
        pipeline.fetch(landed, week, log=lambda _: None)
    asked = landed.with_(assets=("btc", "eth"))
    pipeline.build(asked, week, log=lambda _: None)

    results = json.loads((tmp_path / "run_results.json").read_text())
    coverage = next(t for t in results["tests"] if t["name"] == "assert_report_period_covered")
    assert coverage["severity"] == "warn"
    assert coverage["status"] == "warn"
    assert coverage["failures"] == week.hours  # every hour of eth's week, none of btc's


def test_pages_from_another_api_root_are_fetched_again_not_reused(tmp_path):
    """Demo pages must never stand in for Kaiko's (nor Kaiko's for the demo's), however settled."""
    week = iso_week("2025-W20")
    with running_simulator() as sim:
        settings = Settings(api_key="k", base_url=sim.base_url, assets=("btc",), output_dir=tmp_path)
        first = pipeline.fetch(settings, week, log=lambda _: None)
        assert first.windows_fetched == first.windows_planned > 0
        manifests = list((tmp_path / "landing").rglob("_manifest.json"))
        for path in manifests:  # as if these windows had been landed from Kaiko itself
            manifest = json.loads(path.read_text())
            assert (manifest["source"], manifest["api_root"]) == ("simulator", sim.base_url)
            path.write_text(json.dumps({**manifest, "source": "kaiko",
                                        "api_root": "https://us.market-api.kaiko.io"}))
        before = sim.request_count
        again = pipeline.fetch(settings, week, log=lambda _: None)
        assert again.windows_skipped == 0
        assert again.windows_fetched == first.windows_planned
        assert sim.request_count > before
        settled = pipeline.fetch(settings, week, log=lambda _: None)
        assert settled.windows_skipped == first.windows_planned


def test_coverage_warning_names_only_the_assets_the_report_asks_for(tmp_path):
    week = iso_week("2025-W20")
    with running_simulator() as sim:
        both = Settings(api_key="k", base_url=sim.base_url, assets=("btc", "eth"), output_dir=tmp_path)
        pipeline.fetch(both, iso_week("2025-W19"), log=lambda _: None)  # lands through W19 only
        pipeline.fetch(both.with_(assets=("btc",)), week, log=lambda _: None)
    pipeline.build(both.with_(assets=("btc",)), week, log=lambda _: None)

    results = json.loads((tmp_path / "run_results.json").read_text())
    coverage = next(t for t in results["tests"] if t["name"] == "assert_report_period_covered")
    assert coverage["status"] == "pass"  # eth lacks W20, but this report is about btc


def test_days_before_the_endpoints_history_are_missing_in_the_exports_not_zero(tmp_path):
    import csv

    week = iso_week("2025-W02")  # Mon 2025-01-06 .. Sun 2025-01-12; Kaiko's history starts Wed 2025-01-08
    with running_simulator() as sim:
        settings = Settings(api_key="k", base_url=sim.base_url, assets=("btc",), output_dir=tmp_path)
        pipeline.fetch(settings, week, log=lambda _: None)
    pipeline.build(settings, week, log=lambda _: None)

    with open(tmp_path / "data" / "daily.csv", newline="") as handle:
        days = {row["day"] for row in csv.DictReader(handle)}
    assert "2025-01-06" not in days and "2025-01-07" not in days
    assert {"2025-01-08", "2025-01-12"} <= days
    assert min(days) == "2025-01-08"


def test_run_with_pdf_but_no_weasyprint_stops_before_it_fetches(tmp_path, monkeypatch):
    """A missing pdf extra is the user's to fix in one line, not found out after a whole fetch and build."""
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # makes `import weasyprint` raise ImportError
    with running_simulator() as sim:
        settings = Settings(api_key="k", base_url=sim.base_url, assets=("btc",), output_dir=tmp_path)
        with pytest.raises(RenderError, match=r"pip install 'liqreport\[pdf\]'"):
            pipeline.run(settings, iso_week("2025-W20"), pdf=True, log=lambda _: None)
        assert sim.request_count == 0
    assert not (tmp_path / "landing").exists()
