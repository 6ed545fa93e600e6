"""The CLI as a user drives it: help for every command, one-line errors, exit codes."""

import argparse
import re
import subprocess
import sys

import pytest

from report.cli import build_parser, main


def parser_commands() -> list[str]:
    """Every command the parser knows, read from it: a command added later is tested with no list to edit."""
    actions = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    assert len(actions) == 1
    return list(actions[0].choices)


def test_every_command_has_help_with_an_example(capsys):
    commands = parser_commands()
    assert len(commands) >= 8
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert "example:" in text, f"liqreport {command} --help has no example"
        assert f"liqreport {command}" in text.split("example:")[1], command


def test_top_level_help_lists_every_command_with_its_summary(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in parser_commands():
        listed = re.search(rf"^    {command}\s+\S", text, re.MULTILINE)
        assert listed, f"{command} is not listed with a summary"


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
