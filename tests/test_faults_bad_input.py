"""Fault matrix, family "bad input": every user mistake is one line on stderr, exit code 2, no request made,
nothing written. Driven through the CLI's main() the way a user types it."""

import pytest

from report.cli import main
from report.simulator import running_simulator


@pytest.fixture
def simulator_env(monkeypatch, tmp_path):
    """A running simulator the CLI points at, so a test can prove that no request was made."""
    with running_simulator() as sim:
        monkeypatch.setenv("KAIKO_BASE_URL", sim.base_url)
        monkeypatch.setenv("KAIKO_API_KEY", "test-key")
        monkeypatch.chdir(tmp_path)
        yield sim


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(err: str, *fragments: str):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


CASES = {
    "unknown flag": (["fetch", "--bogus"], ["unrecognized arguments: --bogus", "(see `liqreport --help`)"]),
    "unknown command": (["frobnicate"], ["invalid choice", "(see `liqreport --help`)"]),
    "bad flag value": (
        ["fetch", "--concurrency", "many"], ["invalid int value", "(see `liqreport fetch --help`)"]
    ),
    "missing config file": (["fetch", "--config", "nope.toml"], ["config file nope.toml does not exist"]),
    "impossible date": (["fetch", "--start", "2025-02-30", "--end", "2025-03-03"], ["2025-02-30"]),
    "end before start": (["fetch", "--start", "2025-02-10", "--end", "2025-02-03"], ["not after"]),
    "start without end": (["fetch", "--start", "2025-02-10"], ["go together"]),
    "week and range": (["fetch", "--week", "2025-W09", "--start", "2025-02-10"], ["either --week"]),
    "week that does not exist": (["fetch", "--week", "2021-W53"], ["does not exist"]),
    "malformed week": (["run", "--week", "last"], ["not an ISO week"]),
    "asset with a path": (["fetch", "--assets", "btc,../../etc"], ["'../../etc' is not an asset code"]),
    "asset with a slash": (["fetch", "--assets", "a/b"], ["'a/b' is not an asset code"]),
    "upper-case asset": (["fetch", "--assets", "BTC"], ["'BTC' is not an asset code"]),
    "empty asset list": (["fetch", "--assets", ","], ["no assets given"]),
    "bad interval": (["fetch", "--interval", "90m"], ["interval '90m'"]),
    "interval over a day": (["fetch", "--interval", "25h"], ["interval '25h'"]),
    "bad region": (["fetch", "--region", "asia"], ["us or eu"]),
    "zero concurrency": (
        ["fetch", "--concurrency", "0"], ["concurrency (--concurrency) must be from 1 to 64"]
    ),
}


@pytest.mark.parametrize("argv, fragments", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_exit_2_and_no_request(simulator_env, capsys, tmp_path, argv, fragments):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, *fragments)
    assert simulator_env.request_count == 0
    assert not (tmp_path / "output").exists()


def test_missing_api_key_with_no_demo(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "run", "--no-demo")
    assert code == 2
    assert_one_line_error(err, "no API key", "KAIKO_API_KEY")


def test_unwritable_output_folder(simulator_env, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = run_cli(capsys, "fetch", "--week", "2025-W09", "--output-dir", str(blocker / "out"))
    assert code == 2
    assert_one_line_error(err, "is not writable", "--output-dir")
    assert simulator_env.request_count == 0


def test_unknown_key_in_config_file(simulator_env, capsys, tmp_path):
    (tmp_path / "liqreport.toml").write_text('assets = ["btc"]\nregoin = "eu"\n')
    code, err = run_cli(capsys, "fetch", "--week", "2025-W09")
    assert code == 2
    assert_one_line_error(err, "unknown key(s): regoin")
    assert simulator_env.request_count == 0


def test_page_size_over_the_api_maximum(simulator_env, capsys):
    code, err = run_cli(capsys, "fetch", "--page-size", "5000")
    assert code == 2
    assert_one_line_error(err, "page_size (--page-size) must be from 1 to 1000, got 5000")
    assert simulator_env.request_count == 0


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "--week", "2099-W01"], "2099-W01 is not over yet"),
        (["render", "--start", "2025-01-06", "--end", "2099-01-01"], "is not over yet"),
        (["run", "--week", "2025-W20", "--interval", "4h"], "the report is built from hourly data"),
        (["build", "--week", "2025-W20", "--interval", "1d"], "--interval 1d can be landed"),
    ],
    ids=["future week", "range ending in the future", "4h report", "1d build"],
)
def test_reports_need_a_finished_period_and_hourly_data(simulator_env, capsys, tmp_path, argv, fragment):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, fragment)
    assert simulator_env.request_count == 0
    assert not (tmp_path / "output").exists()
