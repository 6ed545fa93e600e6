"""Backfills a person can watch (issue 12 item 5): one bar on a terminal, a line every few seconds in CI or a
log (never a line a window), only the summary and errors with --quiet. The CLI runs as a real process, on a
pseudo-terminal for the bar."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess

from fault_helpers import cli_env, liqreport, run_cli

from report.fetch.progress import BarProgress, LineProgress
from report.simulator import FaultPlan, running_simulator

# 5 assets × 13 weeks = 65 windows
ARGS = ("--week", "2025-W09", "--assets", "btc,eth,sol,xrp,doge", "--page-size", "168")
PER_WINDOW_LINE = re.compile(r"^\[fetch\] \w+ \d{4}-\d\d-\d\d")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_every_few_seconds_not_every_window():
    clock, lines = Clock(), []
    progress = LineProgress(lines.append, every_s=5.0, clock=clock)
    progress.start(200)
    for _ in range(200):
        clock.now += 0.25  # 4 windows a second for 50 s
        progress.advance(windows=1, rows=168)
    progress.finish()
    assert 8 <= len(lines) <= 10  # one every 5 s, not 200
    assert lines[0] == "[fetch] 20/200 windows, 3,360 rows, 4.0 windows/s, about 45 s left"


def test_the_bar_redraws_in_place_and_lines_print_above_it():
    clock, stream = Clock(), io.StringIO()
    bar = BarProgress(stream, clock=clock)
    bar.start(4)
    clock.now = 1.0
    bar.advance(windows=1, rows=100)
    bar.above(lambda line: stream.write(line + "\n"))("[fetch] eth …: FAILED: HTTP 503")
    clock.now = 2.0
    bar.advance(windows=3, rows=300)
    bar.finish()
    text = stream.getvalue()
    first = "[fetch] [######..................] 1/4 windows, 100 rows, 1.0 windows/s, about 3 s left"
    assert f"\r\x1b[2K{first}" in text
    assert "\r\x1b[2K[fetch] eth …: FAILED: HTTP 503\n" in text  # the bar was cleared first, then redrawn
    assert text.endswith("[fetch] [########################] 4/4 windows, 400 rows\n")
    assert text.count("\n") == 2


def test_without_a_terminal_a_backfill_prints_no_line_a_window(tmp_path):
    with running_simulator(seed=7) as sim:
        result = run_cli(liqreport("fetch", *ARGS, "--output-dir", str(tmp_path / "out")),
                         cli_env(sim.base_url), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("[price] ")]  # the price
    assert not [line for line in lines if PER_WINDOW_LINE.match(line)]  # fetch follows, 5 requests, no bar
    assert lines[0].startswith("[fetch] 65 windows (btc, eth, sol, xrp, doge, 1h): 0 already landed and "
                               "settled, 65 to fetch in ")
    assert lines[-1].startswith("[fetch] done: 65 fetched, 0 skipped, 0 failed; ")
    assert len(lines) <= 2 + 2  # a fast fetch: no progress line needed in between


def test_on_a_terminal_a_backfill_shows_one_bar(tmp_path):
    with running_simulator(seed=7, latency_s=0.01) as sim:
        leader, follower = pty.openpty()
        try:
            process = subprocess.Popen(liqreport("fetch", *ARGS, "--output-dir", str(tmp_path / "out")),
                                       env=cli_env(sim.base_url), cwd=tmp_path, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=follower)
            os.close(follower)
            output = b""
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            assert process.wait(timeout=120) == 0
        finally:
            os.close(leader)
    text = output.decode()
    assert "\r\x1b[2K[fetch] [" in text and "/65 windows" in text
    assert "[fetch] [########################] 65/65 windows, " in text
    printed = [line for line in text.replace("\r\n", "\n").split("\n")
               if line and not line.startswith("[price] ")]  # the price fetch's lines follow the bar
    assert not [line for line in printed if PER_WINDOW_LINE.match(line.split("\r")[-1])]
    assert printed[-1].startswith("[fetch] done: 65 fetched")


def test_quiet_prints_only_the_summary(tmp_path):
    with running_simulator(seed=7) as sim:
        result = run_cli(liqreport("fetch", *ARGS, "--quiet", "--output-dir", str(tmp_path / "out")),
                         cli_env(sim.base_url), tmp_path)
    assert result.returncode == 0
    liquidations, prices = result.stderr.splitlines()
    assert liquidations.startswith("[fetch] done: 65 fetched, 0 skipped, 0 failed; ")
    assert prices.startswith("[price] done: 65 fetched, 0 skipped; ")


def test_quiet_still_prints_the_errors(tmp_path):
    faults = FaultPlan(rate=1.0, kinds=("503",), retry_after_s=0)
    with running_simulator(seed=7, faults=faults) as sim:
        (tmp_path / "liqreport.toml").write_text("max_attempts = 1\n")
        argv = liqreport("fetch", "--week", "2025-W09", "--assets", "btc", "--quiet",
                         "--output-dir", str(tmp_path / "out"))
        result = run_cli(argv, cli_env(sim.base_url), tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line for line in lines if "FAILED" in line]
    assert lines[-2].startswith("[fetch] done: 0 fetched")
    assert lines[-1].startswith("Error: 13 of 13 windows failed; first: GET ")


def test_quiet_still_says_demo_data_and_gives_both_summaries(tmp_path):
    result = run_cli(liqreport("fetch", "--week", "2025-W09", "--assets", "btc", "--quiet", "--output-dir",
                               str(tmp_path / "out")), cli_env(None, api_key=None), tmp_path)
    assert result.returncode == 0, result.stderr
    demo, *summaries = result.stderr.splitlines()
    assert demo.startswith("No KAIKO_API_KEY: using the built-in simulator") and demo.endswith("DEMO DATA.")
    assert [line.split(":")[0] for line in summaries] == ["[fetch] done", "[price] done"]
