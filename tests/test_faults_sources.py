"""Fault matrix, family "source identity": where pages came from is recorded, never guessed from the host.

DEMO DATA means "landed from the built-in simulator", which says so in a header of every answer; each
manifest records its API root, and a window landed from another root is never reused. So after a demo
run, a keyed run against another server on loopback (a second simulator, a mirror) fetches everything
again and reports that server's numbers, computed here from its own generator.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime
from pathlib import Path

import pytest
from fault_helpers import cli_env, liqreport, run_cli, summary_of, week_truth
from fetch_helpers import first_calls, rewriting_proxy

from report.fetch.fetcher import BUILTIN_SIMULATOR_ROOT
from report.periods import iso_week
from report.simulator import running_simulator

WEEK = iso_week("2025-W09")
WINDOWS = 13  # the week and its 12 trailing weeks


def run_argv(output: Path, *extra: str) -> list[str]:
    return liqreport("run", "--week", WEEK.label, "--assets", "btc", "--output-dir", str(output), *extra)


def manifests(output: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in (output / "landing").rglob("_manifest.json")]


def current_roots(output: Path) -> set[str]:
    """The API roots of the newest fetch of each window."""
    newest: dict[str, dict] = {}
    for manifest in sorted(manifests(output), key=lambda m: m["fetch_id"]):
        for window in manifest["windows"]:
            newest[window["window"]] = manifest
    assert len(newest) == WINDOWS
    return {manifest["api_root"] for manifest in newest.values()}


def assert_reports_the_numbers_of(sim, output: Path) -> dict:
    summary = summary_of(output, WEEK)
    [entry] = summary["assets"]
    truth = week_truth(sim, "btc", WEEK)
    assert entry["total_trades"] == truth["total_trades"]
    assert entry["total_amount"] == pytest.approx(truth["total_amount"], rel=1e-9)
    assert entry["hours_covered"] == WEEK.hours
    return summary


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    """A demo run (no key: the in-process built-in simulator) into a folder the tests copy."""
    folder = tmp_path_factory.mktemp("demo")
    result = run_cli(run_argv(folder / "out", "--email-to", "risk@example.com"), cli_env(None, None), folder)
    assert result.returncode == 0, result.stderr
    assert {m["source"] for m in manifests(folder / "out")} == {"simulator"}
    assert current_roots(folder / "out") == {BUILTIN_SIMULATOR_ROOT}
    return folder / "out"


def requested_hours(sim) -> int:
    """Hours covered by the first calls (start_time … end_time) the server saw for btc."""
    hours = 0
    for call in first_calls(sim.request_log, "btc"):
        start, end = (datetime.fromisoformat(call["query"][key].replace("Z", "+00:00"))
                      for key in ("start_time", "end_time"))
        hours += int((end - start).total_seconds() // 3600)
    return hours


def mirror_of(upstream):
    """A plain proxy on loopback: the same bodies, but not the simulator's identity header."""
    return rewriting_proxy(upstream.base_url, lambda body: body)


def copy_of(demo_output: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(demo_output, tmp_path / "out"))


def test_a_demo_rerun_reuses_the_demo_windows_although_the_simulator_port_changed(demo_output, tmp_path):
    output = copy_of(demo_output, tmp_path)
    result = run_cli(liqreport("fetch", "--week", WEEK.label, "--assets", "btc", "--output-dir", str(output)),
                     cli_env(None, None), tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{WINDOWS} already landed and settled, 0 to fetch" in result.stderr


def test_keyed_run_against_a_second_simulator_after_a_demo_run_reports_that_instances_numbers(
        demo_output, tmp_path):
    output = copy_of(demo_output, tmp_path)
    with running_simulator(seed=11) as other:
        demo_numbers = summary_of(output, WEEK)["assets"][0]["total_amount"]
        assert week_truth(other, "btc", WEEK)["total_amount"] != pytest.approx(demo_numbers)  # can fail
        result = run_cli(run_argv(output), cli_env(other.base_url), tmp_path)
        assert result.returncode == 0, result.stderr
        assert requested_hours(other) == WINDOWS * 168  # every window again: nothing of the demo was reused
        summary = assert_reports_the_numbers_of(other, output)
    assert current_roots(output) == {other.base_url}
    assert summary["demo"] is True  # it is the simulator, and it said so


def test_keyed_run_against_a_mirror_on_loopback_is_not_demo_data(demo_output, tmp_path):
    """A local mirror or caching proxy on 127.0.0.1 is not the simulator: its pages are not DEMO DATA."""
    output = copy_of(demo_output, tmp_path)
    with running_simulator(seed=13) as upstream, mirror_of(upstream) as mirror:
        argv = run_argv(output, "--email-to", "risk@example.com")
        result = run_cli(argv, cli_env(mirror.base_url), tmp_path)
        assert result.returncode == 0, result.stderr
        summary = assert_reports_the_numbers_of(upstream, output)
    assert summary["demo"] is False
    assert summary["source"] == f"{mirror.base_url}/v2/data/liquidation.v1/token/{{asset}}"
    assert current_roots(output) == {mirror.base_url}
    newest = [m for m in manifests(output) if m["api_root"] == mirror.base_url]
    assert sum(len(m["windows"]) for m in newest) == WINDOWS and {m["source"] for m in newest} == {"kaiko"}
    report_dir = output / "reports" / WEEK.label
    assert "DEMO DATA" not in (report_dir / "report.html").read_text(encoding="utf-8")
    message = email.message_from_bytes((report_dir / "report.eml").read_bytes(), policy=email.policy.default)
    assert not message["Subject"].startswith("[DEMO DATA]")


def test_keyed_run_against_a_mirror_into_a_fresh_folder_is_not_demo_data(tmp_path):
    with running_simulator(seed=13) as upstream, mirror_of(upstream) as mirror:
        result = run_cli(run_argv(tmp_path / "out"), cli_env(mirror.base_url), tmp_path)
        assert result.returncode == 0, result.stderr
        summary = assert_reports_the_numbers_of(upstream, tmp_path / "out")
    assert summary["demo"] is False


def test_a_window_landed_before_roots_were_recorded_is_fetched_again(demo_output, tmp_path):
    output = copy_of(demo_output, tmp_path)
    for path in (output / "landing").rglob("_manifest.json"):  # as manifest_version 1 wrote them
        manifest = json.loads(path.read_text())
        del manifest["api_root"]
        path.write_text(json.dumps({**manifest, "manifest_version": 1}))
    result = run_cli(liqreport("fetch", "--week", WEEK.label, "--assets", "btc", "--output-dir", str(output)),
                     cli_env(None, None), tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"0 already landed and settled, {WINDOWS} to fetch" in result.stderr
