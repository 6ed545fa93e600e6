"""The GitHub workflow: passes actionlint, installs as the README and Makefile do, publishes to Pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "weekly-report.yml"


def actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: it comes with the dev extra (pip install -e '.[dev]').")
    return found


def run_actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=60,
                          cwd=path.parent)


def run_commands(workflow: str) -> list[str]:
    """The shell commands of every `run:` step (one-line steps, as this workflow writes them)."""
    return [match.strip() for match in re.findall(r"^\s+run:\s*(.+)$", workflow, flags=re.MULTILINE)]


def makefile_dry_run(tmp_path: Path, target: str) -> list[str]:
    """What `make <target>` would run on a fresh checkout (no .venv yet)."""
    shutil.copy(PROJECT_ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=True)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def test_workflow_passes_actionlint():
    result = run_actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_lint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    workflow = WORKFLOW.read_text()
    broken.write_text(workflow.replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.nope }}", 1))
    result = run_actionlint(broken)
    assert result.returncode == 1 and "matrix" in result.stdout


def test_workflow_installs_with_the_makefile_target_the_readme_uses(tmp_path):
    commands = run_commands(WORKFLOW.read_text())
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make report" in readme
    report_recipe = makefile_dry_run(tmp_path, "report")
    install_recipe = makefile_dry_run(tmp_path, ".venv/bin/.installed")
    # `make report` = the install target's recipe, then the report command
    assert report_recipe[: len(install_recipe)] == install_recipe
    assert any("pip install" in line for line in install_recipe)
    assert "make .venv/bin/.installed" in commands
    report_command = report_recipe[len(install_recipe):]
    assert len(report_command) == 1
    # the same command as `make report`, refusing to fall back to demo data on the scheduled run
    assert f"{report_command[0]} --no-demo" in commands


def test_workflow_runs_every_monday_and_on_demand():
    workflow = WORKFLOW.read_text()
    crons = re.findall(r"cron:\s*[\"']([^\"']+)[\"']", workflow)
    assert len(crons) == 1
    minute, hour, day_of_month, month, day_of_week = crons[0].split()
    assert (day_of_month, month, day_of_week) == ("*", "*", "1")
    assert re.search(r"^\s+workflow_dispatch:", workflow, flags=re.MULTILINE)


def test_workflow_passes_the_key_from_secrets_and_fails_on_a_failed_run():
    workflow = WORKFLOW.read_text()
    assert "KAIKO_API_KEY: ${{ secrets.KAIKO_API_KEY }}" in workflow
    assert len(re.findall(r"KAIKO_API_KEY", workflow)) == 2  # only that one env entry
    assert "continue-on-error" not in workflow
    assert not any("|| true" in command for command in run_commands(workflow))


def test_workflow_publishes_the_site_to_pages():
    workflow = WORKFLOW.read_text()
    commands = run_commands(workflow)
    assert ".venv/bin/liqreport publish" in commands
    run = commands.index(".venv/bin/liqreport run --pdf --no-demo")
    assert commands.index(".venv/bin/liqreport publish") > run
    assert re.search(r"uses: actions/upload-artifact@v\d+\n(?:\s+.*\n)*?\s+path: output/site\n", workflow)
    assert re.search(r"uses: actions/upload-pages-artifact@v\d+\n\s+with:\n\s+path: output/site\n", workflow)
    assert "uses: actions/deploy-pages@v" in workflow
    deploy_job = workflow.split("\n  deploy:\n", 1)[1]
    assert "needs: report" in deploy_job
    assert "pages: write" in deploy_job and "id-token: write" in deploy_job
    assert "name: github-pages" in deploy_job
