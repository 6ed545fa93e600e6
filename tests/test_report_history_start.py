"""The report of a week at the start of the endpoint's history (2025-W02: data from Wed 2025-01-08), read as
its readers would: nothing may be claimed that the data cannot show — no spike verdict without the full
28 days of baseline the method states, no "new" exchange without a previous week, no partial week drawn as
a full one, and the hours before the history exported as missing, not left out.

Expected values are worked out here from the dates and the landed pages, never from the marts.
"""

from __future__ import annotations

import email
import json
import shutil
from datetime import UTC, datetime, timedelta
from email import policy

import duckdb
import html5lib
import pytest

from report import pipeline
from report.periods import iso_week
from report.settings import Settings
from report.simulator import DEMO_API_KEY, running_simulator

W02, W03, W06 = iso_week("2025-W02"), iso_week("2025-W03"), iso_week("2025-W06")
HISTORY_START = datetime(2025, 1, 8, tzinfo=UTC)
ASSETS = ("btc", "eth")


def text_of(node) -> str:
    return " ".join(" ".join(node.itertext()).split())


@pytest.fixture(scope="module")
def w02(tmp_path_factory):
    """btc and eth for 2025-W02 to W06 landed from the simulator; W02 built, rendered and emailed."""
    output = tmp_path_factory.mktemp("w02")
    with running_simulator(seed=7, now=datetime(2025, 2, 12, tzinfo=UTC)) as simulator:
        settings = Settings(output_dir=output, assets=ASSETS, base_url=simulator.base_url,
                            api_key=DEMO_API_KEY)
        pipeline.fetch(settings, W06, log=lambda line: None)  # from the history's start: W02 too
    pipeline.build(settings, W02, log=lambda line: None)
    folder = pipeline.render(settings, W02, log=lambda line: None).parent
    pipeline.email(settings.with_(email_to=("risk@example.com",)), W02, log=lambda line: None)
    return settings, folder


def test_spike_hours_before_28_days_of_history_are_not_available_rather_than_none(w02):
    settings, folder = w02
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["overview"]["spike_hours"] is None  # not [] : nothing could be tested
    assert summary["overview"]["spike_hours_tested"] == 0
    spikes = text_of(html5lib.parse((folder / "report.html").read_text(),
                                    namespaceHTMLElements=False).find(".//*[@id='joint-spikes']"))
    assert "Spike hours need 28 days of history: not available for this week." in spikes
    assert "No hour this period saw" not in spikes
    message = email.message_from_bytes((folder / "report.eml").read_bytes(), policy=policy.default)
    for part in ("plain", "html"):
        assert "Spike hours need 28 days of history" in message.get_body((part,)).get_content()


@pytest.mark.parametrize(("week", "tested"), [(W03, 0), (W06, 120)], ids=["W03", "W06"])
def test_spike_hours_are_tested_only_with_a_full_28_day_baseline(w02, tmp_path, week, tested):
    # W03 had 7 to 13 days of history: its hours were tested against a quarter of the stated baseline
    settings, _ = w02
    shutil.copytree(settings.landing_dir, tmp_path / "landing")
    later = settings.with_(output_dir=tmp_path)
    pipeline.build(later, week, run_tests=False, log=lambda line: None)
    with duckdb.connect(str(later.warehouse_path), read_only=True) as connection:
        (hours_tested,) = connection.execute("select joint_spike_hours_tested from rpt_overview").fetchone()
        early = connection.execute("select count(*) from rpt_spike_hours where robust_z is not null "
                                   "and hour < ?", [HISTORY_START + timedelta(days=28)]).fetchone()
    first_testable = HISTORY_START + timedelta(days=28)  # Wed 5 Feb 00:00: 672 hours of baseline
    assert hours_tested == max(0, (week.end - first_testable) // timedelta(hours=1)) == tested
    assert early == (0,)


def test_no_exchange_is_new_in_the_first_week_of_the_history(w02):
    settings, folder = w02
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        statuses = connection.execute("select distinct status from rpt_exchange_share union "
                                      "select distinct status from rpt_overview_exchanges").fetchall()
        bases = connection.execute("select count(*) from rpt_exchange_share "
                                   "where previous_total_amount is not null").fetchone()
    # the week before W02 is before the history: no exchange is new, no base is known
    assert statuses == [("not compared",)] and bases == (0,)
    summary = json.loads((folder / "summary.json").read_text())
    assert {row["status"] for row in summary["overview"]["by_exchange"]} == {"not compared"}
    page = (folder / "report.html").read_text()
    assert 'class="tag new"' not in page and "new this week" not in page


def test_the_long_share_chart_keeps_12_weeks_and_hatches_the_partial_one(w02):
    _, folder = w02
    summary = json.loads((folder / "summary.json").read_text())
    weeks = summary["overview"]["weeks"]
    mondays = [(W02.start - timedelta(weeks=k)).date().isoformat() for k in range(11, -1, -1)]
    assert [week["week_start"] for week in weeks] == mondays
    assert all(week["long_share"] is None and not week["is_fully_covered"] for week in weeks[:-1])
    assert weeks[-1]["long_share"] is not None and not weeks[-1]["is_fully_covered"]


def test_a_partial_week_with_data_is_drawn_hatched(w02):
    from report.render import charts

    full = [{"week_start": (W02.start - timedelta(weeks=k)).date(), "long_share": 0.3 + 0.02 * k,
             "is_fully_covered": True, "is_report_week": k == 0} for k in range(11, -1, -1)]
    full[0] = {**full[0], "long_share": None, "is_fully_covered": False}  # the same legend in both
    partial = [*full[:-1], {**full[-1], "is_fully_covered": False}]
    assert charts.png_bytes(charts.long_share_weeks(partial)) != charts.png_bytes(
        charts.long_share_weeks([*full[:-1], {**full[-1]}])), "the partial week looks like a full one"


def test_the_verdict_says_why_the_week_is_not_ranked(w02):
    _, folder = w02
    verdict = json.loads((folder / "summary.json").read_text())["overview"]["verdict"]
    covered = (W02.end - HISTORY_START) // timedelta(hours=1) * len(ASSETS)  # Wed 8 Jan onwards
    assert verdict.endswith(f"; not ranked: only {covered} of {168 * len(ASSETS)} asset-hours are covered.")


def test_the_hours_before_the_history_are_exported_as_missing(w02):
    import pyarrow.parquet as pq

    _, folder = w02
    hourly = pq.read_table(folder / "data" / "hourly.parquet").to_pylist()
    first = W02.start - timedelta(weeks=12)
    expected = {(asset, first + k * timedelta(hours=1)) for asset in ASSETS for k in range(13 * 168)}
    assert {(row["asset"], row["hour"]) for row in hourly} == expected
    for row in hourly:
        # the report hatches Mon 6 and Tue 7 Jan as no data: the file says the same, never zero
        assert row["covered"] is (HISTORY_START <= row["hour"] < W02.end), row
        assert (row["total_amount"] is None) is not row["covered"]
    by_exchange = pq.read_table(folder / "data" / "hourly_by_exchange.parquet").to_pylist()
    monday = [row for row in by_exchange if row["hour"] == W02.start]
    assert monday and all(row["covered"] is False and row["total_amount"] is None for row in monday)
