"""The fetch step against the simulator over real loopback HTTP: windows, pagination, landing, skipping."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from fetch_helpers import (
    PAST_NOW,
    SECRET_KEY,
    all_text_under,
    assert_rows_exactly_once,
    complete_fetch_dirs,
    expected_rows,
    fetch_dirs,
    first_calls,
    manifest_windows,
    newest_complete_by_window,
    read_verified_pages,
    rewriting_proxy,
    sim_settings,
    utc,
)

from report.errors import ConfigError, FetchError
from report.fetch.client import KaikoClient, build_session
from report.fetch.fetcher import fetch_range
from report.fetch.landing import LandingZone
from report.fetch.ratelimit import TokenBucket
from report.fetch.windows import FetchRange, plan_windows
from report.simulator import running_simulator

MANIFEST_KEYS = {"manifest_version", "source", "api_root", "endpoint", "asset", "interval", "windows",
                 "complete", "error", "fetch_id", "start_time", "end_time", "request", "fetched_at",
                 "completed_at", "answer_time", "page_count", "row_count", "pages"}


@pytest.fixture
def sim():
    with running_simulator(seed=11, api_key=SECRET_KEY) as server:
        yield server


def test_fetch_lands_every_row_exactly_once_across_pages_windows_and_assets(sim, tmp_path):
    # Wednesday to Wednesday: three partial-or-whole weeks per asset, several pages per window.
    start, end = utc(2025, 2, 5), utc(2025, 2, 19, 6)
    settings = sim_settings(sim, tmp_path, assets=("btc", "eth", "sol"), page_size=37)
    summary = fetch_range(settings, start, end, now=PAST_NOW, log=lambda _: None)

    for asset in settings.assets:
        assert_rows_exactly_once(settings.landing_dir, sim, asset, start, end)
    windows = newest_complete_by_window(settings.landing_dir)
    assert sorted(windows) == [(a, w) for a in ("btc", "eth", "sol") for w in ("2025-02-03", "2025-02-10",
                                                                                 "2025-02-17")]
    expected_total = sum(len(expected_rows(sim, a, start, end)) for a in settings.assets)
    assert summary.rows == expected_total
    assert summary.windows_planned == summary.windows_fetched == 9
    assert summary.pages == sim.request_count == summary.requests
    assert summary.pages > 9  # page_size 37 < 168 hours: the chains really were followed
    first = window_entry(windows[("btc", "2025-02-03")], "2025-02-03")
    last = window_entry(windows[("btc", "2025-02-17")], "2025-02-17")
    assert (first["start_time"], first["end_time"]) == ("2025-02-05T00:00:00Z", "2025-02-10T00:00:00Z")
    assert (last["start_time"], last["end_time"]) == ("2025-02-17T00:00:00Z", "2025-02-19T06:00:00Z")


def window_entry(folder, window: str) -> dict:
    [entry] = [e for e in manifest_windows(folder) if e["window"] == window]
    return entry


def test_first_calls_send_page_size_and_sort_and_follow_ups_only_the_token(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, page_size=50)
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    first, *rest = sim.request_log
    assert first["query"] == {"interval": "1h", "page_size": "50", "sort": "asc",
                              "start_time": "2025-02-03T00:00:00Z", "end_time": "2025-02-10T00:00:00Z"}
    assert rest and all(set(r["query"]) == {"continuation_token"} for r in rest)


def test_landed_pages_are_the_bytes_the_server_sent_with_matching_sha256(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, page_size=60)
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    [folder] = complete_fetch_dirs(settings.landing_dir)
    pages = read_verified_pages(folder)  # checks sha256, byte count and row count of every file
    assert [p["query"]["page_size"] for p in pages] == [60] * len(pages)
    # The raw envelope is kept whole (query, access, pagination keys), not re-serialised rows.
    assert {"query", "answer_time", "access", "data", "continuation_token", "next_url"} <= set(pages[0])
    assert "next_url" not in pages[-1]


def test_manifests_follow_the_contract_and_hold_no_key(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, assets=("btc", "eth"), page_size=100)
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=PAST_NOW, log=lambda _: None)
    folders = complete_fetch_dirs(settings.landing_dir)
    assert len(folders) == 4
    for folder in folders:
        manifest = json.loads((folder / "_manifest.json").read_text())
        assert set(manifest) == MANIFEST_KEYS
        assert manifest["manifest_version"] == 3
        assert manifest["source"] == "simulator"
        assert manifest["api_root"] == sim.base_url
        assert manifest["endpoint"] == "liquidation.v1/token"
        assert (manifest["complete"], manifest["error"]) == (True, None)
        assert folder.name == f"fetch={manifest['fetch_id']}"
        assert folder.parent.name == f"interval={manifest['interval']}"
        # page_size 100: a week needs two pages whether alone or with the next, so one range a week
        [window] = manifest["windows"]
        assert set(window) == {"window", "start_time", "end_time", "rows", "pages"}
        assert (window["start_time"], window["end_time"]) == (manifest["start_time"], manifest["end_time"])
        assert window["rows"] == manifest["row_count"] and window["pages"] == ["page-00001.json",
                                                                               "page-00002.json"]
        endpoint = f"{sim.base_url}/v2/data/liquidation.v1/token/{manifest['asset']}"
        assert manifest["request"]["url"] == endpoint
        assert manifest["request"]["params"]["sort"] == "asc"
        assert manifest["page_count"] == len(manifest["pages"]) == 2
        assert manifest["row_count"] == sum(p["rows"] for p in manifest["pages"])
        assert manifest["answer_time"] == manifest["pages"][0]["answer_time"]
    assert SECRET_KEY not in all_text_under(tmp_path)


def test_desc_and_asc_chains_return_the_same_rows(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, page_size=25)
    [window] = plan_windows(["eth"], "1h", utc(2025, 2, 3), utc(2025, 2, 10), PAST_NOW)
    with build_session(settings) as session:
        by_sort = {}
        for sort in ("asc", "desc"):
            chain = KaikoClient(settings, session, sort=sort).pages(window)
            by_sort[sort] = [row["interval_time"] for page in chain for row in page.body["data"]]
    assert by_sort["asc"] == sorted(by_sort["asc"])
    assert by_sort["desc"] == sorted(by_sort["desc"], reverse=True)
    assert sorted(by_sort["asc"]) == sorted(by_sort["desc"]) == sorted(
        expected_rows(sim, "eth", window.start, window.end))


def test_continuation_token_is_used_when_next_url_is_absent(sim, tmp_path):
    def drop_next_url(envelope):
        envelope.pop("next_url", None)
        return envelope

    with rewriting_proxy(sim.base_url, drop_next_url) as proxy:
        settings = sim_settings(sim, tmp_path, base_url=proxy.base_url, page_size=40)
        summary = fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    assert summary.pages == 5  # 168 hours at 40 a page
    assert_rows_exactly_once(settings.landing_dir, sim, "btc", utc(2025, 2, 3), utc(2025, 2, 10))
    assert all(set(r["query"]) == {"continuation_token"} for r in sim.request_log[1:])


def test_rerun_makes_no_request_for_settled_complete_windows(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, assets=("btc", "eth"))
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=PAST_NOW, log=lambda _: None)
    before = sim.request_count
    summary = fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=PAST_NOW, log=lambda _: None)
    assert sim.request_count == before == 2  # one chain an asset: 336 hours fit one 1,000-row page
    assert (summary.windows_planned, summary.windows_skipped, summary.requests) == (4, 4, 0)


def test_unsettled_and_partial_windows_are_fetched_again(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, settle_hours=24)
    # "Now" is Wednesday 12:30 of the second week: that window is clipped to 12:00 and not settled.
    now = utc(2025, 2, 12, 12, 30)
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=now, log=lambda _: None)
    clipped = window_entry(newest_complete_by_window(settings.landing_dir)[("btc", "2025-02-10")],
                           "2025-02-10")
    assert clipped["end_time"] == "2025-02-12T12:00:00Z"
    sim.request_log.clear()
    lines = []
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=now + timedelta(hours=1), log=lines.append)
    assert [r["query"]["start_time"] for r in first_calls(sim.request_log, "btc")] == ["2025-02-10T00:00:00Z"]
    plan = lines[0]
    assert plan.startswith("[fetch] 2 windows (btc, 1h): 1 already landed and settled, 1 to fetch in 1 chain")
    reason = ("; 1 of them landed before they settled (24 h after their end; Kaiko may still revise an hour "
              "until then): fetched again")
    assert plan.endswith(reason)
    assert_rows_exactly_once(settings.landing_dir, sim, "btc", utc(2025, 2, 3), utc(2025, 2, 12, 13))
    # two days after the week's end: its copy was taken before it settled, so it is fetched again, saying why
    lines.clear()
    fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=utc(2025, 2, 19), log=lines.append)
    assert lines[0].endswith(reason)
    assert_rows_exactly_once(settings.landing_dir, sim, "btc", utc(2025, 2, 3), utc(2025, 2, 17))


def test_refresh_refetches_and_the_new_fetch_supersedes_the_old(sim, tmp_path):
    settings = sim_settings(sim, tmp_path)
    start, end = utc(2025, 2, 3), utc(2025, 2, 10)
    fetch_range(settings, start, end, now=PAST_NOW, log=lambda _: None)
    [old] = complete_fetch_dirs(settings.landing_dir)
    sim.revision = 1  # the vendor revised its history
    summary = fetch_range(settings, start, end, now=PAST_NOW, refresh=True, log=lambda _: None)
    assert summary.windows_fetched == 1 and summary.windows_skipped == 0
    folders = complete_fetch_dirs(settings.landing_dir)
    assert len(folders) == 2 and folders[0] == old  # the old complete fetch stays for its readers
    assert newest_complete_by_window(settings.landing_dir)[("btc", "2025-02-03")] == folders[1]
    assert_rows_exactly_once(settings.landing_dir, sim, "btc", start, end)  # newest = revision 1
    revised = expected_rows(sim, "btc", start, end)
    sim.revision = 0
    assert revised != expected_rows(sim, "btc", start, end)  # the check above could have failed


def test_incomplete_fetch_folders_are_removed_when_the_window_is_fetched_again(sim, tmp_path):
    settings = sim_settings(sim, tmp_path)
    [window] = plan_windows(["btc"], "1h", utc(2025, 2, 3), utc(2025, 2, 10), PAST_NOW)
    fetch_range(settings, window.start, window.end, now=PAST_NOW, log=lambda _: None)
    killed = LandingZone(settings.landing_dir).begin(FetchRange((window,)))  # as if a run died mid-window
    (killed.path / "page-00001.json").write_text("{}")
    fetch_range(settings, window.start, window.end, now=PAST_NOW, refresh=True, log=lambda _: None)
    assert not killed.path.exists()
    assert len(fetch_dirs(settings.landing_dir)) == len(complete_fetch_dirs(settings.landing_dir)) == 2


def test_401_is_one_line_that_says_to_set_the_key_and_never_shows_it(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, api_key="sk-wrong-0000")
    lines = []
    with pytest.raises(FetchError) as raised:
        fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lines.append)
    message = str(raised.value)
    assert message == (
        "1 of 1 windows failed; first: Kaiko API answered 401 for btc, window 2025-02-03 … 2025-02-10: "
        "Missing or invalid API key: send a valid key in the X-Api-Key header; set KAIKO_API_KEY to a "
        "valid key (or unset it to run on the built-in simulator).")
    assert "\n" not in message and sim.request_count == 1  # no retry of a refusal
    assert not any("sk-wrong-0000" in line for line in lines + [message])
    assert not complete_fetch_dirs(settings.landing_dir)


def test_400_is_one_line_with_the_apis_message(sim, tmp_path):
    def spoil_token(envelope):
        if "next_url" in envelope:
            del envelope["next_url"]
            envelope["continuation_token"] = "not-a-token"
        return envelope

    with rewriting_proxy(sim.base_url, spoil_token) as proxy:
        settings = sim_settings(sim, tmp_path, base_url=proxy.base_url, page_size=100)
        with pytest.raises(FetchError) as raised:
            fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    assert str(raised.value) == (
        "1 of 1 windows failed; first: Kaiko API answered 400 for btc, window 2025-02-03 … 2025-02-10: "
        "Invalid parameter 'continuation_token': malformed or expired token.")
    assert sim.request_count == 2


@pytest.mark.parametrize("keep_token", [True, False])
def test_next_url_on_another_host_never_gets_the_key(sim, tmp_path, keep_token):
    def point_elsewhere(envelope):
        if "next_url" in envelope:
            envelope["next_url"] = envelope["next_url"].replace("http://127.0.0.1:", "http://127.0.0.2:")
            if not keep_token:
                del envelope["continuation_token"]
        return envelope

    with rewriting_proxy(sim.base_url, point_elsewhere) as proxy:
        settings = sim_settings(sim, tmp_path, base_url=proxy.base_url, page_size=100)
        if keep_token:  # the token is enough to go on against the configured API root
            fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
            assert_rows_exactly_once(settings.landing_dir, sim, "btc", utc(2025, 2, 3), utc(2025, 2, 10))
        else:
            with pytest.raises(FetchError, match=r"next page on another host \(http://127\.0\.0\.2:\d+/v2/"):
                fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    assert sim.request_count == (2 if keep_token else 1)


@pytest.mark.parametrize("asset", ["../etc", "BTC", "a/b", "", "btc?x=1", "b" * 40])
def test_bad_asset_codes_are_refused_before_any_request(sim, tmp_path, asset):
    settings = sim_settings(sim, tmp_path, assets=("eth", asset))
    with pytest.raises(ConfigError):
        fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    assert sim.request_count == 0
    assert not (tmp_path / "landing").exists()


@pytest.mark.parametrize("interval", ["90m", "25h", "0h", "1w", "../1h", ""])
def test_bad_intervals_are_refused_before_any_request(sim, tmp_path, interval):
    settings = sim_settings(sim, tmp_path, interval=interval)
    with pytest.raises(ConfigError):
        fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    assert sim.request_count == 0


def test_the_key_appears_in_no_landed_file_and_no_log_line(tmp_path):
    from report.simulator import FaultPlan

    faults = FaultPlan(script=["503", "ok", "nodata"], retry_after_s=0)
    with running_simulator(seed=3, api_key=SECRET_KEY, faults=faults) as server:
        settings = sim_settings(server, tmp_path, assets=("btc", "doge"), page_size=90, concurrency=1)
        lines = []
        with build_session(settings, backoff_factor=0.01) as session, pytest.raises(FetchError) as raised:
            fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=PAST_NOW, log=lines.append,
                        session=session)
    assert lines and (tmp_path / "landing" / "_quarantine").exists()  # logged, landed and quarantined
    assert SECRET_KEY not in "\n".join(lines) + str(raised.value) + all_text_under(tmp_path)


def test_client_side_rate_limit_holds_across_threads(sim, tmp_path):
    settings = sim_settings(sim, tmp_path, assets=("btc", "eth"), page_size=42, concurrency=4,
                            max_requests_per_second=25.0)
    started = time.monotonic()
    summary = fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 17), now=PAST_NOW, log=lambda _: None)
    elapsed = time.monotonic() - started
    assert summary.requests == sim.request_count == 16
    # A bucket of `concurrency` tokens (one a thread, at most half the rate): n requests need at least
    # (n - 4) / rate seconds, whatever the threads.
    assert elapsed >= (16 - 4) / 25.0


def test_token_bucket_spaces_requests_at_the_rate():
    clock = [0.0]
    bucket = TokenBucket(rate=4.0, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[0] == 0.0
    assert waits[1:] == pytest.approx([0.25] * 4)
    assert clock[0] == pytest.approx(1.0)
