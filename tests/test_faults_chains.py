"""Fault matrix, family "bounded chains": a continuation chain that cannot be right stops with a clear error.

More pages than the window can need (ceil(buckets ÷ page_size) + 2), a row outside the requested range, or
a page that repeats an earlier one: that window is not marked complete; the other windows land whole.
"""

from __future__ import annotations

import math

import pytest
from fault_helpers import cli_env, liqreport, one_error_line, run_cli
from fetch_helpers import (
    PAST_NOW,
    assert_rows_exactly_once,
    fetch_dirs,
    newest_complete_by_window,
    sim_settings,
    utc,
)

from report.errors import FetchError
from report.fetch.fetcher import fetch_range
from report.simulator import FaultPlan, running_simulator

START, END = utc(2025, 2, 3), utc(2025, 2, 10)  # one weekly window per asset
PAGE_SIZE = 100
MAX_PAGES = math.ceil(168 / PAGE_SIZE) + 2  # computed here from the rule, not taken from the code


def fetch_with(tmp_path, chain: str, **changes):
    faults = FaultPlan(chain=chain, chain_assets=("btc",))
    with running_simulator(seed=7, faults=faults) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth"), page_size=PAGE_SIZE, concurrency=1,
                                **changes)
        with pytest.raises(FetchError) as raised:
            fetch_range(settings, START, END, now=PAST_NOW, log=lambda _: None)
        btc_requests = sum(r["path"].endswith("/btc") for r in sim.request_log)
        # eth's chain was fine: it landed whole and exactly once
        assert_rows_exactly_once(settings.landing_dir, sim, "eth", START, END)
    assert list(newest_complete_by_window(settings.landing_dir)) == [("eth", "2025-02-03")]
    return str(raised.value), btc_requests, settings


def test_endless_tokens_stop_after_the_pages_the_window_can_need(tmp_path):
    message, requests, _ = fetch_with(tmp_path, "endless")
    assert requests == MAX_PAGES + 1  # the first page beyond the bound is read, judged, and not landed
    assert message == (
        "1 of 2 windows failed; first: Kaiko API chain for btc, window 2025-02-03 … 2025-02-10 stopped: "
        f"the chain went on past {MAX_PAGES} pages, more than 168 1h buckets at page_size {PAGE_SIZE} can "
        "need; none of its windows is marked complete, try again later or check the API root "
        "(--base-url).")


def test_a_page_that_repeats_an_earlier_one_stops_the_chain(tmp_path):
    message, requests, _ = fetch_with(tmp_path, "repeat")
    assert requests == 2
    assert "stopped: page 2 repeats the rows of an earlier page;" in message


def test_rows_outside_the_requested_range_stop_the_chain(tmp_path):
    message, requests, settings = fetch_with(tmp_path, "outside")
    assert requests == 1
    assert ("stopped: page 1 holds a row for 2025-01-27T00:00:00Z, outside the requested "
            "2025-02-03T00:00:00Z … 2025-02-10T00:00:00Z;") in message
    assert len(fetch_dirs(settings.landing_dir)) == 2  # btc's folder has no manifest: readers ignore it


@pytest.mark.parametrize("page_size, interval", [(1, "1h"), (7, "1h"), (1, "4h"), (1, "1d")])
def test_the_bound_never_stops_a_correct_chain(tmp_path, page_size, interval):
    with running_simulator(seed=7) as sim:
        settings = sim_settings(sim, tmp_path, page_size=page_size, interval=interval)
        summary = fetch_range(settings, START, END, now=PAST_NOW, log=lambda _: None)
    assert summary.windows_fetched == 1
    assert summary.pages == math.ceil(168 / {"1h": 1, "4h": 4, "1d": 24}[interval] / page_size)


def test_a_run_against_an_endless_server_fails_in_one_line_with_few_requests(tmp_path):
    """Issue 10 point 3: such a server once took a `run` to 5,347 requests and 458 MB in 120 s."""
    with running_simulator(seed=7, faults=FaultPlan(chain="endless")) as sim:
        argv = liqreport("run", "--week", "2025-W09", "--assets", "btc", "--page-size", "1000",
                         "--output-dir", str(tmp_path / "out"))
        result = run_cli(argv, cli_env(sim.base_url), tmp_path, timeout=120)
        requests = sim.request_count
    assert result.returncode == 1
    assert "windows failed; first: Kaiko API chain for btc" in one_error_line(result.stderr)
    assert requests <= 13 * (math.ceil(168 / 1000) + 2 + 1)
