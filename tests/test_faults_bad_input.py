"""Fault matrix, family "bad input": every user mistake is one line on stderr, exit code 2, no request made,
nothing written. Driven through the CLI's main() the way a user types it."""

import pytest

from report.cli import main
from report.settings import resolve
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
        (["run", "--start", "2024-01-01", "--end", "2024-01-08"],
         "2024-01-01_2024-01-08 ends before the endpoint's history starts (2025-01-08)"),
        (["fetch", "--week", "2025-W01"], "2025-W01 ends before the endpoint's history starts (2025-01-08)"),
    ],
    ids=["future week", "range ending in the future", "4h report", "1d build", "range before the history",
         "fetch before the history"],
)
def test_reports_need_a_finished_period_in_the_history_and_hourly_data(simulator_env, capsys, tmp_path, argv,
                                                                        fragment):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, fragment)
    assert simulator_env.request_count == 0
    assert not (tmp_path / "output").exists()


# Issue 10 point 7: mistakes that were tracebacks, or silently accepted, are one line and exit 2.
MORE_CASES = {
    "week in year 1": ("", ["run", "--week", "0001-W01"], ["week 0001-W01 is out of range"]),
    "range in year 1": ("", ["fetch", "--start", "0001-01-01", "--end", "2025-01-01"], ["out of range"]),
    "assets = 5": ("assets = 5\n", ["fetch"], ["assets must be a list of codes", "got 5"]),
    "output_dir = 5": ("output_dir = 5\n", ["fetch"], ["output_dir must be a string, got 5"]),
    "email_to = [1, 2]": ("email_to = [1, 2]\n", ["fetch"], ["email_to must be a list of addresses"]),
    "page_size = true": ("page_size = true\n", ["fetch"],
                         ["page_size in liqreport.toml must be a number, got true"]),
    "page_size = 10.9": ("page_size = 10.9\n", ["fetch"], ["must be a whole number, got 10.9"]),
    "timeout_s = nan": ("timeout_s = nan\n", ["fetch"],
                        ["timeout_s in liqreport.toml must be a finite number, got nan"]),
    "concurrency = -3": ("concurrency = -3\n", ["fetch"],
                         ["concurrency in liqreport.toml must be from 1 to 64, got -3"]),
    "--concurrency -3": ("concurrency = 4\n", ["fetch", "--concurrency", "-3"],
                         ["concurrency (--concurrency) must be from 1 to 64, got -3"]),
    "concurrency = '8'": ('concurrency = "8"\n', ["fetch"],
                          ["concurrency in liqreport.toml must be a number, got '8': drop the quotes."]),
    "concurrency = 'x'": ('concurrency = "x"\n', ["fetch"],
                          ["concurrency in liqreport.toml must be a number, got 'x': write a number"]),
    "max-rps nan": ("", ["fetch", "--max-rps", "nan"], ["(--max-rps) must be a finite number, got nan"]),
    "max-rps inf": ("", ["fetch", "--max-rps", "inf"], ["must be a finite number, got inf"]),
    "settle-hours 0": ("", ["fetch", "--settle-hours", "0"],
                       ["settle_hours (--settle-hours) must be from 1 to 744, got 0"]),
    "site-url with credentials": ("", ["email", "--site-url", "https://user:hunter2@example.com/r"],
                                  ["site_url 'https://example.com/r' must not carry credentials"]),
    "concurrency 100000000": ("", ["fetch", "--concurrency", "100000000"],
                              ["must be from 1 to 64, got 100000000"]),
    "base URL port 99999": ("", ["fetch", "--base-url", "http://127.0.0.1:99999"],
                            ["its port is not from 1 to 65535"]),
    "base URL with a query": ("", ["fetch", "--base-url", "http://127.0.0.1:9/?key=abc"],
                              ["must not carry a query"]),
    "base URL not http": ("", ["fetch", "--base-url", "ftp://127.0.0.1/"], ["not an http(s) URL"]),
    "simulate port 99999": ("", ["simulate", "--port", "99999"], ["--port must be from 0 to 65535"]),
    "simulate latency nan": ("", ["simulate", "--latency-ms", "nan"], ["--latency-ms must be from 0"]),
    "recipient with CR/LF": ("", ["run", "--week", "2025-W09",
                                  "--email-to", "a@example.com\r\nBcc: b@evil.io"],
                             ["recipient 'a@example.com\\r\\nBcc: b@evil.io' is not an email address"]),
    "recipient in toml with LF": ('email_to = ["a@example.com\\nBcc: b@evil.io"]\n', ["fetch"],
                                  ["is not an email address"]),
    "recipient without @": ("", ["email", "--week", "2025-W09", "--to", "risk"], ["'risk' is not an email"]),
    "region = 5": ("region = 5\n", ["fetch"], ["region must be a string, got 5"]),
}


@pytest.mark.parametrize("toml, argv, fragments", MORE_CASES.values(), ids=MORE_CASES.keys())
def test_config_and_flag_mistakes_are_one_line_exit_2(simulator_env, capsys, tmp_path, toml, argv, fragments):
    if toml:
        (tmp_path / "liqreport.toml").write_text(toml)
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, *fragments)
    assert simulator_env.request_count == 0
    assert not (tmp_path / "output").exists()


def test_a_config_path_that_is_a_folder_is_one_line(simulator_env, capsys, tmp_path):
    (tmp_path / "conf.d").mkdir()
    code, err = run_cli(capsys, "fetch", "--config", "conf.d")
    assert code == 2
    assert_one_line_error(err, "cannot read config file conf.d (is a directory)")


def without_file_permission_override():
    """As root, drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so that mode 000 means unreadable."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # linux/capability.h
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP: gone from the child after exec


def test_an_unreadable_config_file_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "secret.toml"
    config.write_text('assets = ["btc"]\n')
    config.chmod(0)
    result = subprocess.run([sys.executable, "-m", "report", "fetch", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            preexec_fn=without_file_permission_override if os.geteuid() == 0 else None)
    assert result.returncode == 2, result.stderr
    assert_one_line_error(result.stderr, f"cannot read config file {config} (permission denied)")


def test_credentials_in_a_refused_base_url_are_not_echoed(simulator_env, capsys):
    code, err = run_cli(capsys, "fetch", "--base-url", "http://user:pw-7Hq2x@127.0.0.1:99999/")
    assert code == 2
    assert_one_line_error(err, "base URL 'http://127.0.0.1:99999/' is not usable")
    assert "pw-7Hq2x" not in err and "user" not in err


def test_smtp_port_that_is_not_a_number_is_one_line(simulator_env, capsys, monkeypatch):
    monkeypatch.setenv("SMTP_PORT", "25x")
    code, err = run_cli(capsys, "fetch", "--week", "2025-W09")
    assert code == 2
    assert_one_line_error(err, "SMTP_PORT must be a whole number, got '25x'")


def test_a_whole_number_written_as_a_float_in_the_config_file_is_taken(tmp_path):
    (tmp_path / "liqreport.toml").write_text("page_size = 1e3\nconcurrency = 4.0\n")
    settings = resolve({}, {}, tmp_path / "liqreport.toml")
    assert (settings.page_size, settings.concurrency) == (1000, 4)


def test_a_number_from_another_config_file_names_that_file(simulator_env, capsys, tmp_path):
    (tmp_path / "prod.toml").write_text("page_size = 5000\n")
    code, err = run_cli(capsys, "fetch", "--config", str(tmp_path / "prod.toml"))
    assert code == 2
    assert_one_line_error(err, f"page_size in {tmp_path / 'prod.toml'} must be from 1 to 1000, got 5000")
    assert simulator_env.request_count == 0


@pytest.mark.parametrize("argv, environment, fragment", [
    (["--send"], {}, "no email recipients: pass --to"),
    (["--send", "--email-to", "risk@example.com"], {}, "no sender address: set SMTP_FROM"),
    (["--send", "--email-to", "risk@example.com"], {"SMTP_FROM": "reports@example.com"},
     "SMTP_HOST is not set"),
], ids=["no recipient", "no sender", "no SMTP host"])
def test_run_send_without_what_sending_needs_stops_before_any_work(simulator_env, monkeypatch, capsys,
                                                                   tmp_path, argv, environment, fragment):
    for name in ("SMTP_HOST", "SMTP_FROM", "SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, err = run_cli(capsys, "run", "--week", "2025-W09", "--assets", "btc", *argv)
    assert code == 2
    assert_one_line_error(err, fragment)
    assert simulator_env.request_count == 0
    assert not (tmp_path / "output").exists()
