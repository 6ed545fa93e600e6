"""The CLI as a user drives it: help for every command, one-line errors, exit codes."""

import subprocess
import sys

import pytest

from report.cli import build_parser, main

COMMANDS = ["run", "fetch", "build", "test", "render", "email", "publish", "simulate"]


def test_every_command_has_help_with_an_example(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert f"liqreport {command}" in text.split("example:")[1], command


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command in text


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_python_dash_m_report_is_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "report", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("liqreport ")


def test_parser_knows_shared_flags_on_each_data_command():
    parser = build_parser()
    for command in ["run", "fetch", "build", "render"]:
        args = parser.parse_args([command, "--assets", "btc", "--week", "2025-W09"])
        assert args.assets == "btc" and args.week == "2025-W09"
