"""Fault matrix, family "two writers": real `liqreport` processes on one output folder.

One writer at a time: a second writer exits at once (75) naming the holder's pid and command, or waits
with --wait; a killed holder's lock is gone with it; incomplete folders are cleaned only under the lock;
and whatever the interleaving, the numbers built afterwards are the simulator's, computed here.
"""

from __future__ import annotations

import json
import time

import pytest
from fault_helpers import (
    Child,
    cli_env,
    liqreport,
    one_error_line,
    run_cli,
    summary_of,
    week_truth,
    weekly_fact,
)
from fetch_helpers import complete_fetch_dirs, fetch_dirs

from report.periods import iso_week
from report.simulator import running_simulator

WEEK = iso_week("2025-W09")
ASSETS = "btc,eth"
# slow enough that the first process is still working when the second starts
SLOW = ("--page-size", "24", "--max-rps", "40", "--concurrency", "4")


@pytest.fixture
def slow_sim():
    with running_simulator(seed=7, latency_s=0.02) as sim:
        yield sim


def fetch_argv(output, *extra):
    return liqreport("fetch", "--week", WEEK.label, "--assets", ASSETS, "--output-dir", str(output), *SLOW,
                     *extra)


def assert_right_numbers(sim, output):
    for asset in ASSETS.split(","):
        truth = week_truth(sim, asset, WEEK)
        amount, trades, hours = weekly_fact(output, asset, WEEK)
        assert (trades, hours) == (truth["total_trades"], WEEK.hours)
        assert amount == pytest.approx(truth["total_amount"], rel=1e-9)


def test_second_refresh_exits_at_once_naming_the_holder_and_the_first_lands_whole(slow_sim, tmp_path):
    output = tmp_path / "out"
    env = cli_env(slow_sim.base_url)
    assert run_cli(fetch_argv(output), env, tmp_path).returncode == 0
    first = Child(fetch_argv(output, "--refresh"), env, tmp_path)
    try:
        first.wait_for("[fetch] 26 windows")
        started = time.monotonic()
        second = run_cli(fetch_argv(output, "--refresh"), env, tmp_path, timeout=30)
        waited = time.monotonic() - started
        assert first.process.poll() is None  # the first was still writing while the second was refused
    finally:
        code = first.finish()
    assert code == 0, first.stderr
    assert second.returncode == 75
    line = one_error_line(second.stderr)
    assert f"pid {first.pid} (`liqreport fetch`, since " in line and str(output) in line and "--wait" in line
    assert waited < 10  # at once, not after the first finished
    # nothing of the first fetch was removed: every window has its two complete fetches and no leftovers
    assert len(complete_fetch_dirs(output / "landing")) == 2 * 26 == len(fetch_dirs(output / "landing"))
    build = run_cli(liqreport("build", "--week", WEEK.label, "--assets", ASSETS, "--output-dir", str(output)),
                    env, tmp_path)
    assert build.returncode == 0, build.stderr
    assert_right_numbers(slow_sim, output)


def test_two_runs_at_once_one_is_refused_in_one_line_the_other_reports_the_right_numbers(slow_sim, tmp_path):
    output = tmp_path / "out"
    env = cli_env(slow_sim.base_url)
    argv = liqreport("run", "--week", WEEK.label, "--assets", ASSETS, "--output-dir", str(output), *SLOW)
    first = Child(argv, env, tmp_path)
    try:
        first.wait_for("liqreport run: ")
        second = run_cli(argv, env, tmp_path, timeout=30)
    finally:
        code = first.finish()
    assert code == 0, first.stderr
    assert second.returncode == 75
    assert f"pid {first.pid} (`liqreport run`" in one_error_line(second.stderr)
    summary = summary_of(output, WEEK)
    for entry in summary["assets"]:
        truth = week_truth(slow_sim, entry["asset"], WEEK)
        assert entry["total_trades"] == truth["total_trades"]
        assert entry["total_amount"] == pytest.approx(truth["total_amount"], rel=1e-9)
        assert entry["hours_covered"] == WEEK.hours


def test_wait_queues_behind_the_holder_then_runs(slow_sim, tmp_path):
    output = tmp_path / "out"
    env = cli_env(slow_sim.base_url)
    first = Child(fetch_argv(output), env, tmp_path)
    try:
        first.wait_for("[fetch] 26 windows")
        second = Child(fetch_argv(output, "--wait"), env, tmp_path)
        second.wait_for("Waiting for pid")
        assert first.process.poll() is None
        assert f"Waiting for pid {first.pid} (`liqreport fetch`" in second.stderr
    finally:
        assert first.finish() == 0, first.stderr
    assert second.finish() == 0, second.stderr
    # it started after the first had landed everything: nothing left to fetch
    assert "26 already landed and settled, 0 to fetch" in second.stderr


def test_a_killed_holder_leaves_no_lock_and_its_incomplete_folders_are_cleaned_by_the_next_writer(
        slow_sim, tmp_path):
    output = tmp_path / "out"
    env = cli_env(slow_sim.base_url)
    first = Child(fetch_argv(output), env, tmp_path)
    first.wait_for("[fetch] 26 windows")
    deadline = time.monotonic() + 30
    while not [d for d in fetch_dirs(output / "landing") if not (d / "_manifest.json").exists()]:
        assert time.monotonic() < deadline, "no fetch in progress to kill"
        time.sleep(0.01)
    first.kill()
    incomplete = [d for d in fetch_dirs(output / "landing") if not (d / "_manifest.json").exists()]
    assert incomplete
    # another command (a build) takes the lock at once: the kernel released it with the process
    build = run_cli(liqreport("build", "--week", WEEK.label, "--assets", ASSETS, "--skip-tests",
                              "--output-dir", str(output)), env, tmp_path)
    assert build.returncode == 0, build.stderr
    second = run_cli(fetch_argv(output), env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "incomplete fetch folder(s)" in second.stderr
    assert not any(folder.exists() for folder in incomplete)
    assert fetch_dirs(output / "landing") == complete_fetch_dirs(output / "landing")


def test_a_killed_refresh_leaves_no_incomplete_folder_after_the_next_fetch_of_other_windows(
        slow_sim, tmp_path):
    """Issue 10 point 10: the leftovers go at the next fetch, whatever windows that one fetches."""
    output = tmp_path / "out"
    env = cli_env(slow_sim.base_url)
    assert run_cli(fetch_argv(output), env, tmp_path).returncode == 0
    refresh = Child(fetch_argv(output, "--refresh"), env, tmp_path)
    refresh.wait_for("[fetch] 26 windows")
    deadline = time.monotonic() + 30
    while len([d for d in fetch_dirs(output / "landing") if not (d / "_manifest.json").exists()]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    refresh.kill()
    assert fetch_dirs(output / "landing") != complete_fetch_dirs(output / "landing")
    other = liqreport("fetch", "--week", "2025-W20", "--assets", "sol", "--output-dir", str(output))
    assert run_cli(other, env, tmp_path).returncode == 0
    assert fetch_dirs(output / "landing") == complete_fetch_dirs(output / "landing")


def test_the_lock_file_names_no_secret(slow_sim, tmp_path):
    output = tmp_path / "out"
    key = "sk-lock-5eCr3t-key"
    result = run_cli(fetch_argv(output), cli_env(slow_sim.base_url, api_key=key), tmp_path)
    assert result.returncode == 0, result.stderr
    holder = json.loads((output / ".lock").read_text())
    assert holder["command"] == "liqreport fetch" and set(holder) == {"pid", "command", "since"}
    assert key not in (output / ".lock").read_text()
