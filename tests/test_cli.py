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


@pytest.mark.parametrize("argv", [
    ["--help"], ["--version"], ["fetch", "--help"], ["fetch", "--week", "0001-W01"],
    ["test"], ["render", "--week", "2025-W09"], ["email", "--week", "2025-W09"], ["publish"],
])
def test_commands_with_nothing_to_read_create_no_output_folder(argv, tmp_path, monkeypatch, capsys):
    """Issue 10 leftover: `liqreport test` (render, email, publish) in a fresh folder made output/ and
    output/.lock, then failed; a command that only reads what an earlier one wrote leaves no trace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)
    try:
        code = main(argv)
    except SystemExit as exit_info:  # --help and --version exit from argparse
        code = exit_info.code
    error = capsys.readouterr().err.strip()
    assert list(tmp_path.iterdir()) == []
    if code:
        assert len(error.splitlines()) == 1 and error.startswith("Error: "), error
        assert code in (1, 2)
    if argv[0] in ("test", "render", "email", "publish"):
        assert code == 1
        assert "output does not exist" in error and "liqreport run" in error
