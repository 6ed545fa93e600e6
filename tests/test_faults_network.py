"""Fault matrix, family "network": the simulator misbehaves, the fetch either completes with exactly the
right rows or fails with one clear line, and what was already landed stays intact.

Scripted faults are consumed one per request in order, so these tests fetch with concurrency 1. The
session's backoff is shrunk (Retry-After is not: the 429 test measures it).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest
from fetch_helpers import (
    PAST_NOW,
    SECRET_KEY,
    assert_rows_exactly_once,
    complete_fetch_dirs,
    fetch_dirs,
    newest_complete_by_window,
    sim_settings,
    utc,
)

from report.errors import FetchError
from report.fetch.client import build_session
from report.fetch.fetcher import fetch_range
from report.simulator import FaultPlan, running_simulator

START, END = utc(2025, 2, 3), utc(2025, 2, 17)  # two weekly windows per asset


@contextlib.contextmanager
def faulty(tmp_path, script=(), *, rate=0.0, retry_after_s=0.0, **changes):
    faults = FaultPlan(script=list(script), rate=rate, retry_after_s=retry_after_s, seed=5)
    with running_simulator(seed=7, api_key=SECRET_KEY, faults=faults) as sim:
        settings = sim_settings(sim, tmp_path, **{"concurrency": 1, "page_size": 100, **changes})
        with build_session(settings, backoff_factor=0.01) as session:
            yield sim, settings, session


def fetch(settings, session, **kwargs):
    return fetch_range(settings, START, END, now=PAST_NOW, session=session, log=lambda _: None, **kwargs)


def assert_complete_and_exact(sim, settings, assets=("btc",)):
    for asset in assets:
        assert_rows_exactly_once(settings.landing_dir, sim, asset, START, END)
    assert len(newest_complete_by_window(settings.landing_dir)) == 2 * len(assets)


def test_429_storm_honours_retry_after_and_completes(tmp_path):
    with faulty(tmp_path, ["429"] * 3, retry_after_s=0.2) as (sim, settings, session):
        started = time.monotonic()
        summary = fetch(settings, session)
        elapsed = time.monotonic() - started
        assert_complete_and_exact(sim, settings)
    assert summary.retries == 3 and summary.requests == summary.pages + 3
    assert elapsed >= 3 * 0.2  # slept the server's Retry-After each time, not the 0.01 s backoff


def test_5xx_burst_mid_chain_is_retried_without_duplicating_rows(tmp_path):
    # ok, then every 5xx on page 2 of the first window, then the rest.
    with faulty(tmp_path, ["ok", "500", "502", "503"], max_attempts=4) as (sim, settings, session):
        summary = fetch(settings, session)
        assert_complete_and_exact(sim, settings)
        assert [r["status"] for r in sim.request_log[:5]] == [200, 500, 502, 503, 200]
    assert summary.retries == 3


def test_truncated_body_is_read_again(tmp_path):
    with faulty(tmp_path, ["truncate", "ok", "truncate"]) as (sim, settings, session):
        summary = fetch(settings, session)
        assert_complete_and_exact(sim, settings)
    assert summary.retries == 2


def test_connection_reset_without_answer_is_retried(tmp_path):
    with faulty(tmp_path, ["reset", "reset", "ok", "reset"]) as (sim, settings, session):
        summary = fetch(settings, session)
        assert_complete_and_exact(sim, settings)
    assert summary.retries == 3


def test_slow_server_past_the_timeout_is_retried(tmp_path):
    with faulty(tmp_path, ["slow:1.5"], timeout_s=0.4) as (sim, settings, session):
        started = time.monotonic()
        summary = fetch(settings, session)
        elapsed = time.monotonic() - started
        assert_complete_and_exact(sim, settings)
    assert summary.retries == 1
    assert elapsed < 1.5  # gave up on the slow answer instead of waiting for it


def test_random_faults_complete_with_exactly_the_right_rows(tmp_path):
    with faulty(tmp_path, rate=0.35, max_attempts=8, page_size=50, concurrency=3,
                assets=("btc", "eth")) as (sim, settings, session):
        sim.faults.kinds = ("429", "500", "503", "504", "truncate", "reset")
        summary = fetch(settings, session)
        assert_complete_and_exact(sim, settings, assets=("btc", "eth"))
        assert summary.retries > 0 and summary.requests == sim.request_count


def test_garbage_page_after_every_attempt_is_quarantined_and_the_error_names_the_file(tmp_path):
    script = ["ok", "garbage", "garbage", "garbage"]
    with faulty(tmp_path, script, max_attempts=3) as (sim, settings, session):
        with pytest.raises(FetchError) as raised:
            fetch(settings, session)
        message = str(raised.value)
        quarantined = sorted((settings.landing_dir / "_quarantine" / "btc" / "2025-02-03").glob("*.json"))
        assert len(quarantined) == 1 and quarantined[0].name.endswith("-page-00002.json")
        assert message.startswith(
            "1 of 2 windows failed; first: page 2 of btc window 2025-02-03 is malformed")
        assert str(quarantined[0]) in message and "\n" not in message
        assert quarantined[0].read_bytes().startswith(b"<html>")
        assert "not JSON" in quarantined[0].with_suffix(".reason.txt").read_text()
        # The failed window has no manifest; the other one landed whole.
        assert list(newest_complete_by_window(settings.landing_dir)) == [("btc", "2025-02-10")]
        assert len(fetch_dirs(settings.landing_dir)) == 2


def test_page_without_data_is_quarantined_not_taken_for_an_empty_page(tmp_path):
    with faulty(tmp_path, ["nodata"]) as (sim, settings, session):
        expected = r"page 1 of btc window 2025-02-03 is malformed \(`data` is missing\)"
        with pytest.raises(FetchError, match=expected):
            fetch(settings, session)
        [quarantined] = (settings.landing_dir / "_quarantine" / "btc" / "2025-02-03").glob("*.json")
        assert "data" not in json.loads(quarantined.read_bytes())
        assert list(newest_complete_by_window(settings.landing_dir)) == [("btc", "2025-02-10")]


def test_retries_exhausted_fail_with_one_clear_line(tmp_path):
    with faulty(tmp_path, ["503"] * 3, max_attempts=3) as (sim, settings, session):
        with pytest.raises(FetchError) as raised:
            fetch(settings, session)
        assert str(raised.value) == (
            f"1 of 2 windows failed; first: GET {sim.base_url}/v2/data/liquidation.v1/token/btc "
            "(window 2025-02-03) failed after 3 attempts: HTTP 503 Service unavailable: maintenance in "
            "progress, try again later.")
        assert sim.request_count == 3 + 2  # three tries of the first window, then the second window


def test_network_failure_exhausted_names_the_url_without_its_query(tmp_path):
    with faulty(tmp_path, ["ok"] + ["reset"] * 3, max_attempts=3) as (sim, settings, session):
        with pytest.raises(FetchError) as raised:
            fetch(settings, session)
    message = str(raised.value)
    assert message.endswith("failed after 3 attempts: the connection was closed without an answer")
    assert "continuation_token" not in message and "?" not in message


def test_a_failed_refresh_keeps_the_complete_windows_already_landed(tmp_path):
    with faulty(tmp_path, assets=("btc", "eth"), max_attempts=2) as (sim, settings, session):
        fetch(settings, session)
        before = {key: path for key, path in newest_complete_by_window(settings.landing_dir).items()}
        snapshot = {p: p.read_bytes() for folder in before.values() for p in folder.iterdir()}
        sim.faults.script.extend(["ok", "500", "500", "ok", "ok", "nodata"])
        with pytest.raises(FetchError, match=r"^2 of 4 windows failed; first: "):
            fetch(settings, session, refresh=True)
        after = newest_complete_by_window(settings.landing_dir)
        assert set(after) == set(before)
        # The two windows that failed still read as their old complete fetch, byte for byte.
        assert sum(after[key] == before[key] for key in before) == 2
        assert all(p.read_bytes() == data for p, data in snapshot.items())
        assert len(complete_fetch_dirs(settings.landing_dir)) == 6
        assert_complete_and_exact(sim, settings, assets=("btc", "eth"))


def test_unreachable_api_root_fails_fast_instead_of_retrying_every_window(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = sim_settings(None, tmp_path, base_url=f"http://127.0.0.1:{port}", assets=("btc", "eth", "sol"),
                            concurrency=1, max_attempts=3)
    with build_session(settings, backoff_factor=0.01) as session, pytest.raises(FetchError) as raised:
        fetch(settings, session)
    assert str(raised.value).startswith(
        f"6 of 6 windows failed; first: GET http://127.0.0.1:{port}/v2/data/liquidation.v1/token/btc "
        "(range 2025-02-03..2025-02-10) failed after 3 attempts: could not connect")
    assert len(fetch_dirs(settings.landing_dir)) <= 2  # the rest were cancelled before they started


def test_data_null_is_retried_like_a_cut_off_body(tmp_path):
    """Issue 10 point 8: a 200 with `data: null` was quarantined at once; it is transient like a cut body."""
    with faulty(tmp_path, ["ok", "nulldata", "nulldata"], max_attempts=4) as (sim, settings, session):
        summary = fetch(settings, session)
        assert_complete_and_exact(sim, settings)
        assert not (settings.landing_dir / "_quarantine").exists()
    assert summary.retries == 2


def test_data_null_after_every_attempt_is_quarantined(tmp_path):
    with faulty(tmp_path, ["nulldata"] * 3, max_attempts=3) as (sim, settings, session):
        with pytest.raises(FetchError, match=r"page 1 of btc window 2025-02-03 is malformed \(HTTP 200 with "
                                             r"`data: null`, after 3 attempts\)"):
            fetch(settings, session)
        [quarantined] = (settings.landing_dir / "_quarantine" / "btc" / "2025-02-03").glob("*.json")
        assert json.loads(quarantined.read_bytes())["data"] is None
        assert list(newest_complete_by_window(settings.landing_dir)) == [("btc", "2025-02-10")]
