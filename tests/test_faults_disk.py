"""Fault matrix, family "full disk": the output folder on a real, small tmpfs that fills up.

Landing, build, render and email each stop with one line, `Error: no space left on device while writing
<path>`, exit 1; the first error is the one reported; no temp file, `*.building` or incomplete fetch folder
is left; what was complete before (windows, warehouse, report) is intact; and the next run after space is
freed succeeds with the simulator's numbers. Needs to mount a tmpfs (root, as in CI); skipped otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from fault_helpers import cli_env, liqreport, one_error_line, run_cli, summary_of, week_truth
from fetch_helpers import (
    assert_rows_exactly_once,
    complete_fetch_dirs,
    fetch_dirs,
    manifest_windows,
    read_verified_pages,
)
from test_faults_process import artifacts_verify

from report.periods import iso_week
from report.pipeline import fetch_start
from report.settings import Settings
from report.simulator import running_simulator

WEEK = iso_week("2025-W09")
ASSETS = ("btc", "eth")
FULL = re.compile(r"^Error: no space left on device while writing (\S+)$")


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def resize(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


@contextlib.contextmanager
def filled(folder: Path, leave_bytes: int):
    """Take all but `leave_bytes` of the file system's free space, for the block."""
    ballast = folder / "ballast"
    stats = os.statvfs(folder)
    with open(ballast, "wb") as handle:
        handle.truncate(0)
        remaining = stats.f_bavail * stats.f_frsize - leave_bytes
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            remaining -= handle.write(chunk[:min(len(chunk), remaining)])
    try:
        yield
    finally:
        ballast.unlink()


def leftovers(output: Path) -> list[Path]:
    """Temp files, half-built warehouses and render folders a failed write must not leave."""
    patterns = ("**/.*.tmp", "**/*.building", "**/*.building.wal", "**/*.building.tmp",
                "reports/.*.rendering-*")
    return [path for pattern in patterns for path in output.glob(pattern)]


def assert_full_disk_error(result, output: Path) -> Path:
    assert result.returncode == 1, result.stderr
    match = FULL.match(one_error_line(result.stderr))
    assert match, result.stderr
    path = Path(match.group(1))
    assert path == output or output in path.parents
    assert leftovers(output) == []
    return path


@pytest.fixture
def sim():
    with running_simulator(seed=7) as server:
        yield server


def argv(command: str, output: Path, *extra: str) -> list[str]:
    return liqreport(command, "--week", WEEK.label, "--assets", ",".join(ASSETS), "--output-dir", str(output),
                     *extra)


def test_a_full_disk_while_landing_keeps_complete_windows_and_the_next_fetch_completes(sim, tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        output = disk / "out"
        result = run_cli(argv("fetch", output), cli_env(sim.base_url), tmp_path)
        written = assert_full_disk_error(result, output)
        assert "landing" in written.parts
        complete = complete_fetch_dirs(output / "landing")
        assert fetch_dirs(output / "landing") == complete  # the incomplete ones gave their space back
        for folder in complete:
            read_verified_pages(folder)
        resize(disk, "64m")
        again = run_cli(argv("fetch", output), cli_env(sim.base_url), tmp_path)
        assert again.returncode == 0, again.stderr
        # a range fetch's folder marks each week complete as its chain gets there: count windows, not folders
        landed = sum(len(manifest_windows(folder)) for folder in complete)
        assert f"{landed} already landed and settled" in again.stderr
        for asset in ASSETS:
            assert_rows_exactly_once(output / "landing", sim, asset, fetch_start(Settings(), WEEK), WEEK.end)


def test_a_full_disk_while_building_reports_the_first_error_and_keeps_the_previous_warehouse(sim, tmp_path):
    """Issue 10 point 6: the real error was masked by a second ENOSPC writing run_results.json, and
    warehouse.duckdb.building was left behind so the next render failed too."""
    with tmpfs(tmp_path / "disk", "64m") as disk:
        output = disk / "out"
        env = cli_env(sim.base_url)
        assert run_cli(argv("run", output), env, tmp_path).returncode == 0
        warehouse = (output / "warehouse.duckdb").read_bytes()
        with filled(disk, leave_bytes=256 * 1024):
            result = run_cli(argv("build", output), env, tmp_path)
            written = assert_full_disk_error(result, output)
            assert written.name.startswith("warehouse.duckdb"), written
            assert (output / "warehouse.duckdb").read_bytes() == warehouse
        render = run_cli(argv("render", output), env, tmp_path)  # the warehouse is usable as it was
        assert render.returncode == 0, render.stderr
        again = run_cli(argv("run", output), env, tmp_path)
        assert again.returncode == 0, again.stderr
        for entry in summary_of(output, WEEK)["assets"]:
            truth = week_truth(sim, entry["asset"], WEEK)
            assert entry["total_trades"] == truth["total_trades"]
            assert entry["total_amount"] == pytest.approx(truth["total_amount"], rel=1e-9)


def test_a_full_disk_while_exporting_names_an_export_and_leaves_no_temporary(sim, tmp_path):
    """The exports are written two at a time (report/models/exports.py): every writer's temporary goes, the
    one error line names a file in data/, the files of the last good export stay, and the next run writes
    them again."""
    output = tmp_path / "out"
    env = cli_env(sim.base_url)
    assert run_cli(argv("run", output), env, tmp_path).returncode == 0
    before = {path.name: path.read_bytes() for path in (output / "data").iterdir()}
    # the exports alone on a small disk of their own, as they were
    with tmpfs(tmp_path / "data", "16m") as data:
        for name, content in before.items():
            (data / name).write_bytes(content)
        (output / "data").rename(tmp_path / "data.before")
        (output / "data").symlink_to(data)
        with filled(data, leave_bytes=64 * 1024):
            result = run_cli(argv("build", output), env, tmp_path)
            written = assert_full_disk_error(result, output)
            assert written.parent == output / "data" and written.name.endswith(".tmp"), written
            assert not list(data.glob(".*.tmp"))
            assert sorted(path.name for path in data.iterdir() if path.name != "ballast") == sorted(before)
            # a file is replaced only once it is whole: each is the last export's or a whole new one
            for name, content in before.items():
                now = (data / name).read_bytes()
                assert now == content or name.endswith(".csv") and now.count(b"\n") == content.count(b"\n")
        again = run_cli(argv("build", output), env, tmp_path)
        assert again.returncode == 0, again.stderr
        assert {path.name: path.read_bytes() for path in data.iterdir()} == before
        (output / "data").unlink()


def test_a_full_disk_while_rendering_keeps_the_previous_report(sim, tmp_path):
    with tmpfs(tmp_path / "disk", "64m") as disk:
        output = disk / "out"
        env = cli_env(sim.base_url)
        assert run_cli(argv("run", output), env, tmp_path).returncode == 0
        report_dir = output / "reports" / WEEK.label
        with filled(disk, leave_bytes=64 * 1024):
            written = assert_full_disk_error(run_cli(argv("render", output), env, tmp_path), output)
            assert artifacts_verify(report_dir)
        assert run_cli(argv("render", output), env, tmp_path).returncode == 0
        assert artifacts_verify(report_dir)
        # the message names the file it could not write, by its place in the report folder (not the staging
        # folder it was being built in, gone by then): one of the files a whole report holds
        assert written.parent.is_relative_to(report_dir) and written.is_file(), written


def test_a_full_disk_while_writing_the_email_names_report_eml(sim, tmp_path):
    with tmpfs(tmp_path / "disk", "64m") as disk:
        output = disk / "out"
        env = cli_env(sim.base_url)
        assert run_cli(argv("run", output), env, tmp_path).returncode == 0
        with filled(disk, leave_bytes=0):
            result = run_cli(argv("email", output, "--to", "risk@example.com"), env, tmp_path)
            written = assert_full_disk_error(result, output)
        assert written == output / "reports" / WEEK.label / "report.eml"
        again = run_cli(argv("email", output, "--to", "risk@example.com"), env, tmp_path)
        assert again.returncode == 0, again.stderr
