"""sql/ is also a dbt project: real dbt builds the same tables as liqreport's runner (when dbt is installed:
`make dbt` puts it in .venv-dbt), the comparison can tell them apart, and dbt_project.yml agrees with the
runner's materializations."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_parity import compare_warehouses, parity

from report.models.runner import compile_models
from report.settings import SQL_DIR

REPO = Path(__file__).resolve().parent.parent
VARIABLES = {"landing_path": "/nowhere", "report_start": "2025-02-24 00:00:00",
             "report_end": "2025-03-03 00:00:00"}


def installed_dbt() -> Path | None:
    candidates = (os.environ.get("LIQREPORT_DBT"), REPO / ".venv-dbt" / "bin" / "dbt", shutil.which("dbt"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.mark.skipif(installed_dbt() is None, reason="dbt is not installed: `make dbt` installs dbt-duckdb "
                                                    "in .venv-dbt (CI does not need it)")
def test_dbt_build_gives_the_runners_tables_relation_for_relation(tmp_path):
    lines: list[str] = []
    problems = parity(installed_dbt(), tmp_path / "output", assets=("btc", "eth"), log=lines.append)
    assert problems == []
    compared = [line for line in lines if line.startswith("same")]
    models, _, _ = compile_models(SQL_DIR, VARIABLES)
    assert len(compared) == len(models)
    assert any("PASS=" in line and "ERROR=0" in line for line in lines)
    assert not (SQL_DIR / "target").exists() and not (SQL_DIR / "logs").exists()


def make_warehouse(path: Path, rows: list[tuple], view: bool = True) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table fct_a (asset varchar, amount double, trades bigint)")
        connection.executemany("insert into fct_a values (?, ?, ?)", rows)
        if view:
            connection.execute("create view stg_a as select asset from fct_a")
    return path


def test_comparison_reports_rows_sums_values_and_kinds_that_differ(tmp_path):
    rows = [("btc", 1.5, 3), ("eth", 2.25, 4)]
    same = compare_warehouses(make_warehouse(tmp_path / "a.duckdb", rows),
                              make_warehouse(tmp_path / "b.duckdb", list(reversed(rows))))
    assert same[1] == []
    changed = [("btc", 1.5, 3), ("sol", 2.5, 4)]
    _, problems = compare_warehouses(make_warehouse(tmp_path / "c.duckdb", rows),
                                     make_warehouse(tmp_path / "d.duckdb", changed))
    assert "fct_a.amount: sum 3.75 in the runner's warehouse, 4.0 in dbt's" in problems
    assert "fct_a: 1 rows in runner's that dbt's lacks" in problems
    _, problems = compare_warehouses(make_warehouse(tmp_path / "e.duckdb", rows),
                                     make_warehouse(tmp_path / "f.duckdb", rows, view=False))
    assert problems == ["stg_a: only in the runner's warehouse"]


def test_dbt_project_materializations_are_the_runners():
    """dbt's folder configs cannot name staging/ (a model-path): a model whose runner default differs from the
    project's default must state it in its own config(), where dbt sees it."""
    project = (SQL_DIR / "dbt_project.yml").read_text()
    default = re.search(r"^models:\n  liqreport:\n    \+materialized: (\w+)$", project, re.MULTILINE).group(1)
    paths = re.search(r"^model-paths: \[(.*)\]$", project, re.MULTILINE).group(1)
    folders = {path.strip().strip('"') for path in paths.split(",")}
    models, _, renderer = compile_models(SQL_DIR, VARIABLES)
    assert folders == {model.path.relative_to(SQL_DIR).parts[0] for model in models.values()}
    renderer.executing = False  # as dbt parses: the config() a model states, with no query run
    for model in models.values():
        _, _, stated = renderer.render(model.path, model.source, {})
        assert stated.get("materialized", default) == model.materialized, model.path
    assert re.search(r'^test-paths: \["tests"\]$', project, re.MULTILINE)
    assert re.search(r'^macro-paths: \["macros"\]$', project, re.MULTILINE)
