"""The README tells the truth: every setting documented, every command listed, the sample run's counts."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from report import settings
from report.cli import build_parser
from report.settings import CONFIG_KEYS, SQL_DIR

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def configuration_table() -> list[dict[str, str]]:
    lines = [line for line in section("Configuration").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
            for line in lines[2:]]


def names(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def parser_commands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_readme_table_documents_every_liqreport_toml_key():
    table = configuration_table()
    documented = set().union(*(names(row["liqreport.toml"]) for row in table))
    assert documented == CONFIG_KEYS
    assert all(row["default"] for row in table)


def test_readme_table_documents_every_environment_variable_the_settings_read():
    source = Path(settings.__file__).read_text()
    read = set(re.findall(r"environ\.get\(\"([A-Z_]+)\"", source))
    assert {"KAIKO_API_KEY", "SMTP_HOST"} <= read
    documented = set().union(*(names(row["environment"]) for row in configuration_table()))
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_readme_flags_are_real_flags():
    flags = {option for command in parser_commands().values() for action in command._actions
             for option in action.option_strings}
    documented = set().union(*(names(row["flag"]) for row in configuration_table()))
    assert documented and documented <= flags, f"not a flag: {sorted(documented - flags)}"


def test_readme_lists_every_command():
    listed = re.findall(r"^liqreport (\w+) ", section("Commands"), re.MULTILINE)
    assert listed == list(parser_commands())


def test_readme_sample_run_counts_the_projects_models_and_tests():
    models = [path for path in SQL_DIR.rglob("*.sql") if path.relative_to(SQL_DIR).parts[0] not in
              ("tests", "macros")]
    tests = list((SQL_DIR / "tests").glob("*.sql"))
    sample = section("What a run looks like")
    assert f"Running {len(models)} models and {len(tests)} data tests from" in sample
    assert f"Completed: {len(models)} models, {len(tests)} tests" in sample
    assert f"{len(models)} of {len(models)} OK created" in sample
