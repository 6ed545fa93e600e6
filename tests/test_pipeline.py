"""The pipeline's steps chained as `liqreport run` chains them, on the simulator, into tmp_path."""

import json

from report import pipeline
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
