"""Data tests: `sql/tests/*.sql`, each a select that returns the failing rows (none = pass).

`{{ config(severity='warn') }}` makes a failure a warning: logged and recorded, the build goes on.
The default severity is error: the build fails with DataQualityError and the warehouse is not replaced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from report.errors import DataQualityError, ModelError
from report.models.console import progress_line

SEVERITIES = ("error", "warn")
SHOWN_ROWS = 5
COUNT_COLUMN = "__failing_rows"


@dataclass
class DataTest:
    name: str
    path: Path
    sql: str
    severity: str = "error"
    refs: set[str] = field(default_factory=set)


def compile_test(renderer, test: DataTest) -> DataTest:
    """The test's SQL for the warehouse as it is now (after the models: `rows_written` sees their merges)."""
    path = test.path
    sql, refs, config = renderer.render(path, path.read_text(), {"severity": "error"})
    if config["severity"] not in SEVERITIES:
        raise ModelError(f"{path} asks for severity={config['severity']!r}: use 'error' or 'warn'.")
    return DataTest(path.stem, path, sql.strip().rstrip(";"), config["severity"], set(refs))


def discover_tests(sql_dir: Path, renderer) -> list[DataTest]:
    paths = sorted((sql_dir / "tests").glob("*.sql"))
    return [compile_test(renderer, DataTest(path.stem, path, "")) for path in paths]


def failing_rows(connection: duckdb.DuckDBPyConnection, test: DataTest) -> tuple[int, list[dict]]:
    try:
        # one pass: the window count sees every failing row before the limit keeps the first few
        cursor = connection.execute(
            f"select *, count(*) over () as {COUNT_COLUMN} from (\n{test.sql}\n) limit {SHOWN_ROWS}")
        columns = [column[0] for column in cursor.description]
        fetched = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        raise ModelError(f"data test {test.name} ({test.path}) failed to run: {exc}") from None
    count = fetched[0].pop(COUNT_COLUMN) if fetched else 0
    rows = [{k: plain(v) for k, v in row.items() if k != COUNT_COLUMN} for row in fetched]
    return count, rows


def plain(value):
    """Timestamps and dates as ISO text, so messages and run_results.json read the same."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return value.isoformat(sep=" ") if hasattr(value, "hour") else str(value)


def run_tests(connection: duckdb.DuckDBPyConnection, tests: list[DataTest], results, log) -> None:
    """Run every test, record it in results, then raise for the first error-level failure."""
    failures = []
    for index, test in enumerate(tests, start=1):
        began = time.perf_counter()
        count, rows = failing_rows(connection, test)
        elapsed = time.perf_counter() - began
        status = "pass" if count == 0 else ("warn" if test.severity == "warn" else "fail")
        results.tests.append({"name": test.name, "path": str(test.path), "severity": test.severity,
                              "status": status, "failures": count, "first_rows": rows,
                              "elapsed_s": round(elapsed, 4)})
        label = {"pass": "PASS", "warn": f"WARN {count}", "fail": f"FAIL {count}"}[status]
        log(progress_line(index, len(tests), f"{label.split()[0]} {test.name}", f"{label} in {elapsed:.2f}s"))
        for row in rows if count else []:
            log(f"    {test.name}: {row}")
        if status == "fail":
            failures.append((test, count, rows))
    if failures:
        test, count, rows = failures[0]
        others = f" (and {len(failures) - 1} more failing tests)" if len(failures) > 1 else ""
        raise DataQualityError(f"data test {test.name} failed: {count} rows; first: {rows[0]}{others}; "
                               f"see {test.path} and fix the landed data or the models.")
