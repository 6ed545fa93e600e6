"""sql/ under real dbt: build the same landing zone with liqreport's runner and with `dbt build` (dbt-duckdb),
the same vars, then compare every relation — kind, columns and types, rows, and the sum of every number.

    python tests/dbt_parity.py --dbt .venv-dbt/bin/dbt          (what `make dbt` runs)

It lands the demo week (and its trailing weeks) from the built-in simulator into its own output folder, so it
never touches output/warehouse.duckdb. Exit 0 when every relation agrees, 1 with the differences otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from report import pipeline
from report.models.runner import build
from report.periods import iso_week
from report.settings import SQL_DIR, Settings

WEEK = "2025-W09"
ASSETS = ("btc", "eth", "sol")
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
# float sums differ in their last bits with the order DuckDB's threads add in; nothing else may differ
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str
    columns: tuple[tuple[str, str], ...]


def relations(connection: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, Relation]:
    found = {}
    for name, table_type in connection.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_catalog = ? and table_schema = 'main' order by table_name", [catalog]).fetchall():
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns where table_catalog = ? "
            "and table_schema = 'main' and table_name = ? order by ordinal_position",
            [catalog, name]).fetchall()
        found[name] = Relation(name, "view" if table_type == "VIEW" else "table", tuple(columns))
    return found


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def numeric(data_type: str) -> bool:
    return data_type in FLOAT_TYPES or data_type in (
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    ) or data_type.startswith("DECIMAL")


def compare_relation(connection, relation: Relation) -> list[str]:
    """Rows, sums of the numeric columns, and every non-float value as a multiset, runner vs dbt."""
    table = quoted(relation.name)
    sums = [f"sum({quoted(name)})::double" for name, data_type in relation.columns if numeric(data_type)]
    query = f"select count(*){''.join(', ' + s for s in sums)} from {{}}.{table}"
    runner_row = connection.execute(query.format("runner")).fetchone()
    dbt_row = connection.execute(query.format("dbt")).fetchone()
    problems = []
    if runner_row[0] != dbt_row[0]:
        problems.append(f"{relation.name}: {runner_row[0]} rows in the runner's warehouse, "
                        f"{dbt_row[0]} in dbt's")
    numeric_names = [name for name, data_type in relation.columns if numeric(data_type)]
    for name, ours, theirs in zip(numeric_names, runner_row[1:], dbt_row[1:], strict=True):
        same = (ours is None and theirs is None) or (
            ours is not None and theirs is not None and math.isclose(ours, theirs, rel_tol=RELATIVE_TOLERANCE,
                                                                     abs_tol=1e-9))
        if not same:
            problems.append(f"{relation.name}.{name}: sum {ours} in the runner's warehouse, "
                            f"{theirs} in dbt's")
    exact = ", ".join(quoted(name) for name, data_type in relation.columns if data_type not in FLOAT_TYPES)
    if exact:
        for first, second in (("runner", "dbt"), ("dbt", "runner")):
            extra = connection.execute(f"select count(*) from (select {exact} from {first}.{table} "
                                       f"except all select {exact} from {second}.{table})").fetchone()[0]
            if extra:
                problems.append(f"{relation.name}: {extra} rows in {first}'s that {second}'s lacks")
    return problems


def compare_warehouses(runner_warehouse: Path, dbt_warehouse: Path) -> tuple[list[str], list[str]]:
    """(one line per relation compared, the differences); no differences means dbt and the runner agree."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{runner_warehouse}' as runner (read_only)")
        connection.execute(f"attach '{dbt_warehouse}' as dbt (read_only)")
        ours, theirs = relations(connection, "runner"), relations(connection, "dbt")
        problems = [f"{name}: only in the runner's warehouse" for name in sorted(ours.keys() - theirs.keys())]
        problems += [f"{name}: only in dbt's warehouse" for name in sorted(theirs.keys() - ours.keys())]
        lines = []
        for name in sorted(ours.keys() & theirs.keys()):
            if ours[name] != theirs[name]:
                problems.append(f"{name}: runner {ours[name].kind} {ours[name].columns} but dbt "
                                f"{theirs[name].kind} {theirs[name].columns}")
                continue
            found = compare_relation(connection, ours[name])
            problems += found
            rows = connection.execute(f"select count(*) from runner.{quoted(name)}").fetchone()[0]
            lines.append(f"{'DIFFERS' if found else 'same'}  {ours[name].kind:5} {name} ({rows} rows)")
    return lines, problems


def dbt_build(dbt: Path, variables: dict, dbt_dir: Path, log) -> Path:
    """`dbt build` of sql/ into dbt_dir/warehouse.duckdb; target and logs in dbt_dir, never inside sql/."""
    warehouse = dbt_dir / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    environment = {**os.environ, "LIQREPORT_DBT_WAREHOUSE": str(warehouse),
                   "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    command = [str(dbt), "build", "--project-dir", str(SQL_DIR), "--profiles-dir", str(SQL_DIR),
               "--target-path", str(dbt_dir / "target"), "--log-path", str(dbt_dir / "logs"),
               "--vars", json.dumps(variables)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    for line in result.stdout.splitlines()[-4:]:
        log(f"[dbt] {line}")
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed ({result.returncode}):\n"
                         f"{result.stdout[-4000:]}{result.stderr[-2000:]}")
    return warehouse


def parity(dbt: Path, output_dir: Path, *, week: str = WEEK, assets=ASSETS, log=print) -> list[str]:
    """Land the demo week, build it with both, compare; returns the differences (empty: they agree)."""
    settings = Settings(output_dir=output_dir, assets=tuple(assets))
    period = iso_week(week)
    pipeline.fetch(settings, period, log=lambda line: None)
    variables = pipeline.model_variables(settings, period)
    runner_warehouse = output_dir / "warehouse.duckdb"
    build(runner_warehouse, SQL_DIR, variables, log=lambda line: None)
    dbt_warehouse = dbt_build(dbt, variables, output_dir / "dbt", log)
    lines, problems = compare_warehouses(runner_warehouse, dbt_warehouse)
    for line in lines:
        log(line)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbt", type=Path, default=Path(".venv-dbt/bin/dbt"), help="the dbt executable")
    parser.add_argument("--output-dir", type=Path, default=Path("output/dbt-parity"))
    parser.add_argument("--week", default=WEEK)
    args = parser.parse_args(argv)
    problems = parity(args.dbt, args.output_dir.resolve(), week=args.week)
    for problem in problems:
        print(f"DIFFERENCE: {problem}", file=sys.stderr)
    print(f"dbt and liqreport's runner {'differ' if problems else 'agree on every relation'} "
          f"({args.output_dir}).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
