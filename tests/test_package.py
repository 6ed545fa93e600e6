"""liqreport as a package: the wheel carries sql/ and templates/ and runs the demo week like the editable
install; the declared dependencies are what the code imports."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
WEEK = "2025-W09"
# what differs between two runs of the same week by design: when they ran
VOLATILE = ("generated_at", "data_as_of")
HIDDEN = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "KAIKO_API_KEY", "KAIKO_BASE_URL")


def run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    # nothing that would put the repository or the dev venv on the path, and no API key (demo data)
    environment = {key: value for key, value in os.environ.items() if key not in HIDDEN}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=environment)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def project_files(folder: Path, patterns: tuple[str, ...]) -> set[str]:
    return {path.relative_to(folder).as_posix() for pattern in patterns for path in folder.rglob(pattern)}


def demo_summary(liqreport: Path, workdir: Path) -> tuple[dict, str]:
    workdir.mkdir()
    result = run([str(liqreport), "run", "--week", WEEK, "--assets", "btc,eth", "--output-dir", "output"],
                 cwd=workdir)
    summary = json.loads((workdir / "output" / "reports" / WEEK / "summary.json").read_text())
    for key in VOLATILE:
        summary.pop(key)
    return summary, result.stderr


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """The wheel built from a copy of the project, installed (not editable) into a fresh venv."""
    root = tmp_path_factory.mktemp("package")
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("report", "sql", "templates"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    python = Path(sys.executable)
    run([str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "dist"),
         str(source)], cwd=root)
    wheel = next((root / "dist").glob("liqreport-*.whl"))
    venv = root / "venv"
    run([str(python), "-m", "venv", str(venv)], cwd=root)  # its own packages: the dev venv's are not seen
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=root)
    return venv


def test_wheel_carries_every_sql_and_template_file(wheel_venv, tmp_path):
    found = run([str(wheel_venv / "bin" / "python"), "-c",
                 "import report, report.settings as s; print(report.__file__); print(s.SQL_DIR); "
                 "print(s.TEMPLATES_DIR)"], cwd=tmp_path).stdout.split()
    package, sql_dir, templates_dir = (Path(line) for line in found)
    assert package.is_relative_to(wheel_venv) and sql_dir.is_relative_to(wheel_venv)
    assert project_files(sql_dir, ("*.sql", "*.yml")) == project_files(REPO / "sql", ("*.sql", "*.yml"))
    patterns = ("*.html", "*.txt")
    assert project_files(templates_dir, patterns) == project_files(REPO / "templates", patterns)


def test_wheel_runs_the_demo_week_like_the_editable_install(wheel_venv, tmp_path):
    installed, log = demo_summary(wheel_venv / "bin" / "liqreport", tmp_path / "wheel")
    assert re.search(r"Running \d+ models and \d+ data tests from .*/site-packages/report/sql", log), log
    editable, _ = demo_summary(Path(sys.executable).parent / "liqreport", tmp_path / "editable")
    assert installed["assets"] and installed["totals"]["total_amount"] > 0
    assert installed == editable


def imported_modules(folder: Path) -> set[str]:
    """Top-level names of every module imported anywhere under folder (lazy imports included)."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_declare_every_third_party_package_the_code_imports():
    distributions = importlib.metadata.packages_distributions()
    third_party = {name for name in imported_modules(REPO / "report")
                   if name not in sys.stdlib_module_names and name != "report"}
    core = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    optional = {requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["pdf"]}
    undeclared = {}
    for module in third_party:
        names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
        if not names & (core | optional):
            undeclared[module] = sorted(names)
    assert undeclared == {}
    # the PDF engine is the one optional import: everything else, email included, is core
    assert {"css-inline", "numpy", "urllib3", "pillow", "duckdb", "requests", "jinja2", "matplotlib"} <= core
    assert optional == {"weasyprint"}
