"""Fault matrix, family "process": `liqreport fetch` is SIGKILLed at random points, then run to completion.

The CLI runs as a real subprocess against a simulator started here; nothing is patched. Afterwards every
row is landed exactly once, no window that was complete at a kill is fetched again, and no temp file or
incomplete folder is ever taken for data.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from fetch_helpers import (
    assert_rows_exactly_once,
    complete_fetch_dirs,
    fetch_dirs,
    first_calls,
    manifest_windows,
    newest_complete_by_window,
    read_verified_pages,
    utc,
)

from report.simulator import running_simulator

ASSETS = ("btc", "eth")
# `--start 2025-02-03 --end 2025-02-17` fetches 12 trailing weeks too: [2024-11-11, 2025-02-17).
FETCH_START, FETCH_END = utc(2024, 11, 11), utc(2025, 2, 17)
KILLS = 4


def start_fetch(sim, workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "KAIKO_BASE_URL": sim.base_url, "KAIKO_API_KEY": "any-key-works-here"}
    command = [sys.executable, "-m", "report", "fetch", "--start", "2025-02-03", "--end", "2025-02-17",
               "--assets", ",".join(ASSETS), "--output-dir", str(workdir / "out"), "--max-rps", "25"]
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def complete_windows(landing: Path) -> list[tuple[str, str, str]]:
    """(asset, start_time, end_time) of every window a complete fetch marks complete (repeats kept)."""
    windows = []
    for folder in complete_fetch_dirs(landing):
        manifest = json.loads((folder / "_manifest.json").read_text())
        windows.extend((manifest["asset"], w["start_time"], w["end_time"]) for w in manifest_windows(folder))
    return windows


def in_progress(folder: Path) -> bool:
    """A fetch the kill interrupted: no manifest yet, or one rewritten mid-range (not `complete`)."""
    manifest = folder / "_manifest.json"
    return not manifest.exists() or not json.loads(manifest.read_text())["complete"]


def requested_again(request_log: list[dict], done: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The complete windows that a first request (start_time … end_time) asked for again."""
    asked = [(asset, r["query"]["start_time"], r["query"]["end_time"])
             for asset in ASSETS for r in first_calls(request_log, asset)]
    return [window for window in done
            if any(a == window[0] and start < window[2] and window[1] < end for a, start, end in asked)]


def wait_for_request(sim, count_before: int, process, timeout_s: float = 60.0) -> None:
    """Until the simulator has seen a request from this fetch (or the process ended)."""
    deadline = time.monotonic() + timeout_s
    while sim.request_count == count_before and process.poll() is None:
        assert time.monotonic() < deadline, "the fetch made no request"
        time.sleep(0.01)


def test_fetch_resumes_after_kill_without_duplicates(tmp_path):
    (tmp_path / "liqreport.toml").write_text("page_size = 50\n")  # several pages a window
    landing = tmp_path / "out" / "landing"
    rng = random.Random(20250203)
    killed_mid_window = 0
    with running_simulator(seed=7, latency_s=0.02) as sim:
        for _ in range(KILLS):
            done_before = complete_windows(landing)
            log_start = sim.request_count
            with start_fetch(sim, tmp_path) as process:
                # kill at a random moment of the fetch itself, not of the interpreter's start (which took
                # longer than the old fixed 0.8-2.8 s on a loaded machine, so no kill hit a window)
                wait_for_request(sim, log_start, process)
                time.sleep(rng.uniform(0.05, 1.5))
                process.kill()
                process.wait(timeout=10)
                process.stderr.read()
            assert not requested_again(sim.request_log[log_start:], done_before), "re-fetched a window"
            killed_mid_window += any(in_progress(folder) for folder in fetch_dirs(landing))

        done_before = complete_windows(landing)
        log_start = sim.request_count
        with start_fetch(sim, tmp_path) as process:
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()
        assert not requested_again(sim.request_log[log_start:], done_before)
        assert b"[fetch] done: " in stderr

        for asset in ASSETS:
            assert_rows_exactly_once(landing, sim, asset, FETCH_START, FETCH_END)
        # Each window marked complete once: nothing complete was fetched twice, nothing is missing.
        assert len(complete_windows(landing)) == len(set(complete_windows(landing))) == 2 * 14
        assert len(newest_complete_by_window(landing)) == 2 * 14
        # No incomplete folder and no temp file is left, and every complete folder holds exactly its pages.
        assert fetch_dirs(landing) == complete_fetch_dirs(landing)
        assert not [p for p in landing.rglob("*") if ".tmp" in p.name]
        for folder in complete_fetch_dirs(landing):
            read_verified_pages(folder)

        # A last run finds everything landed and settled: not a single request.
        log_start = sim.request_count
        with start_fetch(sim, tmp_path) as process:
            process.communicate(timeout=60)
        assert process.returncode == 0 and sim.request_count == log_start
    assert killed_mid_window >= 1  # the kills really did interrupt windows in progress


def artifacts_verify(report_dir: Path) -> bool:
    """True when the report folder is whole: its manifest lists every artifact with a matching sha256."""
    manifest = json.loads((report_dir / "manifest.json").read_text())
    assert manifest["files"], "empty report manifest"
    for entry in manifest["files"]:
        data = (report_dir / entry["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return False
    return True


def warehouse_rows(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select count(*) from fct_liquidations_daily").fetchone()[0]


def test_run_killed_during_build_or_render_keeps_previous_warehouse_and_report(tmp_path):
    out = tmp_path / "out"
    report_dir = out / "reports" / "2025-W20"
    rng = random.Random(20250512)
    with running_simulator(seed=7) as sim:
        env = {**os.environ, "KAIKO_BASE_URL": sim.base_url, "KAIKO_API_KEY": "any-key-works-here"}
        command = [sys.executable, "-m", "report", "run", "--week", "2025-W20", "--assets", "btc,eth",
                   "--output-dir", str(out)]
        first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=240)
        assert first.returncode == 0, first.stderr.decode()
        assert artifacts_verify(report_dir)
        daily_rows = warehouse_rows(out / "warehouse.duckdb")
        assert daily_rows > 0
        # The fetch is skipped now (everything settled). Each kill waits for a step to start, then a random
        # moment inside it; a run that finished before its kill is run again with a shorter wait, so every
        # kill lands in build or render however fast the machine is.
        interrupted = 0
        for step in ("build", "render", "build", "render"):
            longest_wait = 0.6
            while longest_wait > 0.01:
                with subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True) as process:
                    for line in process.stderr:
                        if line.startswith(f"[{step}] …"):
                            break
                    time.sleep(rng.uniform(0.0, longest_wait))
                    in_progress = process.poll() is None
                    process.kill()
                    process.wait(timeout=10)
                    process.stderr.read()
                assert artifacts_verify(report_dir)
                assert warehouse_rows(out / "warehouse.duckdb") == daily_rows
                if in_progress:
                    interrupted += 1
                    break
                longest_wait /= 2
        last = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=240)
    assert interrupted == 4  # every kill hit a run still in progress
    assert last.returncode == 0, last.stderr.decode()
    assert artifacts_verify(report_dir)
    assert warehouse_rows(out / "warehouse.duckdb") == daily_rows
