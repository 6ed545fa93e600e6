"""Fetching near the true bound (issue 12 item 4): a backfill lands consecutive weeks in one continuation
chain, so it makes ceil(buckets ÷ page_size) requests an asset, while each week is still marked complete,
skipped, superseded and reported missing on its own. Minimums are computed here from the hours, not by the
code.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta

import duckdb
import pytest
from fetch_helpers import (
    PAST_NOW,
    assert_rows_exactly_once,
    expected_rows,
    first_calls,
    newest_complete_by_window,
    sim_settings,
    utc,
)

from report import periods, pipeline
from report.errors import FetchError
from report.fetch.client import build_session
from report.fetch.fetcher import fetch_range
from report.fetch.windows import plan_ranges, plan_windows
from report.periods import iso_week
from report.simulator import FaultPlan, running_simulator

MONDAY = utc(2025, 2, 3)


def minimum(hours: int, page_size: int) -> int:
    return math.ceil(hours / page_size)


@pytest.mark.parametrize("assets, weeks", [(8, 12), (2, 104), (3, 11), (1, 17), (5, 13)])
def test_a_backfill_makes_the_minimum_requests(tmp_path, assets, weeks):
    codes = ("btc", "eth", "sol", "xrp", "doge", "ada", "link", "dot")[:assets]
    start = utc(2023, 1, 2)  # a Monday: 104 weeks end before PAST_NOW
    end = start + timedelta(weeks=weeks)
    with running_simulator(seed=7, data_start=start, now=PAST_NOW) as sim:
        settings = sim_settings(sim, tmp_path, assets=codes, max_requests_per_second=1000.0)
        summary = fetch_range(settings, start, end, now=PAST_NOW, log=lambda _: None)
        requests = sim.request_count
        for asset in codes[:2]:
            assert_rows_exactly_once(settings.landing_dir, sim, asset, start, end)
    assert requests == summary.requests == assets * minimum(weeks * 168, 1000)
    assert summary.windows_fetched == assets * weeks
    assert len(newest_complete_by_window(settings.landing_dir)) == assets * weeks


def test_a_clipped_range_at_an_odd_page_size_makes_the_minimum_requests(tmp_path):
    start, end = utc(2025, 2, 5), utc(2025, 3, 19, 6)  # Wednesday to a Wednesday morning
    with running_simulator(seed=7) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth"), page_size=37)
        fetch_range(settings, start, end, now=PAST_NOW, log=lambda _: None)
        hours = int((end - start).total_seconds() // 3600)
        assert sim.request_count == 2 * minimum(hours, 37)
        for asset in ("btc", "eth"):
            assert_rows_exactly_once(settings.landing_dir, sim, asset, start, end)


def test_a_weekly_run_is_one_request_an_asset(tmp_path):
    with running_simulator(seed=7) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth", "sol"))
        fetch_range(settings, MONDAY - timedelta(weeks=12), MONDAY, now=PAST_NOW, log=lambda _: None)
        before = sim.request_count
        summary = fetch_range(settings, MONDAY - timedelta(weeks=12), MONDAY + timedelta(weeks=1),
                              now=PAST_NOW, log=lambda _: None)
        assert sim.request_count - before == 3
    assert (summary.windows_skipped, summary.windows_fetched, summary.ranges) == (36, 3, 3)


def test_plan_ranges_never_needs_more_than_the_minimum():
    for weeks in range(1, 160):
        windows = plan_windows(["btc"], "1h", MONDAY, MONDAY + timedelta(weeks=weeks), utc(2030, 1, 1))
        ranges = plan_ranges(windows, 1000)
        assert sum(r.pages_needed(1000) for r in ranges) == minimum(168 * weeks, 1000), weeks
        assert [w for r in ranges for w in r.windows] == windows  # every window once, in order
    # as short as the minimum allows, so that chains of one asset run side by side: 12 weeks are three
    # one-page chains (5 + 5 + 2 weeks), not one chain of three pages
    twelve = plan_ranges(plan_windows(["btc"], "1h", MONDAY, MONDAY + timedelta(weeks=12), utc(2030, 1, 1)),
                         1000)
    assert [len(r.windows) for r in twelve] == [5, 5, 2]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_never_more_requests_at_once_than_concurrency_while_more_chains_run(tmp_path, concurrency):
    """The fetch runs more chains than request slots (one lands its page while another's request waits on
    the network), but the server never sees more than `concurrency` requests at once, and sees that many."""
    start = utc(2024, 6, 3)
    end = start + timedelta(weeks=12)
    with running_simulator(seed=7, data_start=start, now=PAST_NOW, latency_s=0.05) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth", "sol", "xrp"), concurrency=concurrency)
        summary = fetch_range(settings, start, end, now=PAST_NOW, log=lambda _: None)
        assert summary.ranges == 4 * 3 > concurrency  # three one-page chains an asset (5 + 5 + 2 weeks)
        assert sim.peak_in_flight == concurrency
        for asset in ("btc", "xrp"):
            assert_rows_exactly_once(settings.landing_dir, sim, asset, start, end)


def test_a_chain_that_fails_midway_keeps_the_weeks_it_passed(tmp_path):
    """11 weeks = 1,848 hours: one chain of two pages (any split into weeks costs three); page 2 fails."""
    monday = utc(2024, 6, 3)
    end = monday + timedelta(weeks=11)
    faults = FaultPlan(script=["ok", "503", "503", "503"], retry_after_s=0)
    with running_simulator(seed=7, faults=faults, data_start=monday, now=PAST_NOW) as sim:
        settings = sim_settings(sim, tmp_path, max_attempts=3)
        with build_session(settings, backoff_factor=0.01) as session:
            with pytest.raises(FetchError, match=r"^6 of 11 windows failed; first: GET "):
                fetch_range(settings, monday, end, now=PAST_NOW, session=session, log=lambda _: None)
        kept = newest_complete_by_window(settings.landing_dir)
        # page 1 holds the first 1,000 hours: five whole weeks (840 hours), and part of the sixth
        assert [window for _, window in kept] == [(monday + timedelta(weeks=i)).date().isoformat()
                                                  for i in range(5)]
        assert_rows_exactly_once(settings.landing_dir, sim, "btc", monday, monday + timedelta(weeks=5))
        [folder] = set(kept.values())
        manifest = json.loads((folder / "_manifest.json").read_text())
        assert manifest["complete"] is False and "failed after 3 attempts" in manifest["error"]
        assert manifest["page_count"] == 1

        sim.request_log.clear()
        summary = fetch_range(settings, monday, end, now=PAST_NOW, log=lambda _: None)
        assert summary.windows_skipped == 5 and summary.windows_fetched == 6
        assert min(call["query"]["start_time"] for call in first_calls(sim.request_log, "btc")) == \
            (monday + timedelta(weeks=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert_rows_exactly_once(settings.landing_dir, sim, "btc", monday, end)


def test_a_newer_fetch_of_one_week_replaces_only_that_week(tmp_path):
    """Weeks landed together in one chain are still superseded one by one."""
    week = iso_week("2025-W09")
    with running_simulator(seed=7) as sim:
        settings = sim_settings(sim, tmp_path)
        pipeline.fetch(settings, week, log=lambda _: None)  # 13 weeks, three chains
        earlier = iso_week("2025-W08")  # landed in the same chain as W09
        original = expected_rows(sim, "btc", week.start, week.end)
        untouched = expected_rows(sim, "btc", earlier.start, earlier.end)
        sim.revision = 1  # the vendor revises its history; only W09 is fetched again
        fetch_range(settings, week.start, week.end, refresh=True, now=PAST_NOW, log=lambda _: None)
        revised = expected_rows(sim, "btc", week.start, week.end)
        assert expected_rows(sim, "btc", earlier.start, earlier.end) != untouched  # W08 changed upstream too
    assert revised != original  # the check below could fail
    pipeline.build(settings, week, log=lambda _: None)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        def week_sum(period):
            return connection.execute(
                "select total_trades, total_amount from fct_liquidations_weekly where week_start = ?",
                [period.start.date()]).fetchone()

        assert week_sum(week)[0] == sum(row["total_trades"] for row in revised.values())
        assert week_sum(week)[1] == pytest.approx(sum(row["total_amount"] for row in revised.values()))
        assert week_sum(earlier)[0] == sum(row["total_trades"] for row in untouched.values())


def test_the_report_counts_a_page_that_holds_several_weeks_once(tmp_path):
    """Issue 10 leftover: one page of a range fetch is listed under each week it holds; rpt_data_quality's
    page count summed the windows' page counts, so a two-week report on one page said 2 pages."""
    period = periods.explicit("2025-02-17", "2025-03-03")  # two weeks: 336 hourly rows, one page
    with running_simulator(seed=7) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",))
        fetch_range(settings, period.start, period.end, now=PAST_NOW, log=lambda _: None)
    manifests = [json.loads(path.read_text()) for path in settings.landing_dir.rglob("_manifest.json")]
    assert [len(manifest["windows"]) for manifest in manifests] == [2]  # one chain, both weeks on its page
    distinct_pages = sum(manifest["page_count"] for manifest in manifests)
    assert distinct_pages == 1
    pipeline.build(settings, period, run_tests=False, log=lambda _: None)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        pages, windows = connection.execute(
            "select pages, complete_windows from rpt_data_quality where asset = 'btc'").fetchone()
    assert (pages, windows) == (distinct_pages, 2)
