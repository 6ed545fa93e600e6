"""The model runner on small SQL projects: refs, DAG errors, vars, data tests, select, atomicity."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from report.errors import DataQualityError, ModelError
from report.models import runner
from report.models.runner import build
from report.settings import SQL_DIR

VARIABLES = {"landing_path": "/nowhere", "report_start": "2025-01-06 00:00:00",
             "report_end": "2025-01-13 00:00:00"}


def write_project(root: Path, files: dict[str, str]) -> Path:
    sql_dir = root / "sql"
    for relative, text in files.items():
        path = sql_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sql_dir


def query(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


BASIC = {
    "staging/stg_numbers.sql": "-- one row per n\nselect range as n from range({{ var('count') }})\n",
    "marts/fct_doubled.sql": "with numbers as (select * from {{ ref('stg_numbers') }})\n"
                             "select n * 2 as d from numbers\n",
    "marts/fct_total.sql": "{{ config(materialized='view') }}\n"
                           "select sum(d) as total from {{ ref('fct_doubled') }}\n",
    "reports/rpt_nested/rpt_deep.sql": "select total + 1 as total_plus_one from {{ ref('fct_total') }}\n",
    "tests/assert_doubled_is_even.sql": "select * from {{ ref('fct_doubled') }} where d % 2 <> 0\n",
}


def test_models_build_in_ref_order_with_folder_materializations_and_dbt_lines(tmp_path):
    sql_dir = write_project(tmp_path, BASIC)
    lines: list[str] = []
    warehouse = tmp_path / "out" / "warehouse.duckdb"
    results = build(warehouse, sql_dir, {**VARIABLES, "count": 5}, log=lines.append)
    assert query(warehouse, "select total_plus_one from rpt_deep") == [(21,)]
    kinds = dict(query(warehouse, "select table_name, table_type from information_schema.tables "
                                  "where table_schema = 'main'"))
    assert kinds == {"stg_numbers": "VIEW", "fct_doubled": "BASE TABLE", "fct_total": "VIEW",
                     "rpt_deep": "BASE TABLE"}
    assert [m["name"] for m in results.models] == ["stg_numbers", "fct_doubled", "fct_total", "rpt_deep"]
    assert re.fullmatch(r"1 of 4 OK created sql view model stg_numbers \.+ \[OK in \d+\.\d\ds\]", lines[1])
    assert re.fullmatch(r"2 of 4 OK created sql table model fct_doubled \.+ \[OK 5 rows in \d+\.\d\ds\]",
                        lines[2])
    assert re.fullmatch(r"1 of 1 PASS assert_doubled_is_even \.+ \[PASS in \d+\.\d\ds\]", lines[5])
    assert re.fullmatch(r"Completed: 4 models, 1 tests \(1 pass, 0 warn, 0 fail\) in \d+\.\ds", lines[-1])
    document = json.loads((tmp_path / "out" / "run_results.json").read_text())
    assert document["summary"] == {"models": 4, "tests": 1, "passed": 1, "warned": 0, "failed": 0}
    assert [m["rows"] for m in document["models"]] == [None, 5, None, 1]


def test_cycle_in_refs_names_the_files(tmp_path):
    sql_dir = write_project(tmp_path, {
        "marts/a.sql": "select * from {{ ref('b') }}",
        "marts/b.sql": "select * from {{ ref('c') }}",
        "marts/c.sql": "select * from {{ ref('a') }}",
        "marts/d.sql": "select 1 as x",
    })
    with pytest.raises(ModelError, match=r"cycle: .*marts/(a|b|c)\.sql -> .*marts/(a|b|c)\.sql") as caught:
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)
    assert "d.sql" not in str(caught.value)
    assert not (tmp_path / "w.duckdb").exists()


def test_unknown_ref_names_the_file_and_the_ref(tmp_path):
    sql_dir = write_project(tmp_path, {"marts/fct_a.sql": "select * from {{ ref('stg_missing') }}"})
    with pytest.raises(ModelError, match=r"marts/fct_a\.sql refers to unknown model 'stg_missing'"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)


def test_missing_var_names_the_file_and_the_var(tmp_path):
    sql_dir = write_project(tmp_path, {"staging/stg_a.sql": "select '{{ var('region') }}' as region"})
    with pytest.raises(ModelError, match=r"staging/stg_a\.sql uses var\('region'\) but no such variable"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)


def test_duplicate_model_names_are_refused(tmp_path):
    sql_dir = write_project(tmp_path, {"staging/same.sql": "select 1 as x",
                                       "marts/same.sql": "select 2 as x"})
    with pytest.raises(ModelError, match="two models are named 'same'"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)


def test_sql_error_names_model_and_file_and_keeps_previous_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {"marts/fct_a.sql": "select 1 as x"})
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "marts" / "fct_a.sql").write_text("select no_such_column from range(3)")
    with pytest.raises(ModelError, match=r"model fct_a \(sql/marts/fct_a\.sql\) failed: .*no_such_column"):
        build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    assert query(warehouse, "select x from fct_a") == [(1,)]


def test_failing_error_test_raises_with_rows_and_keeps_previous_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {
        "marts/fct_a.sql": "select 1 as x",
        "tests/assert_x_positive.sql": "select * from {{ ref('fct_a') }} where x <= 0",
    })
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "marts" / "fct_a.sql").write_text("select unnest([-1, -2, 3, -4]) as x")
    lines: list[str] = []
    message = r"^data test assert_x_positive failed: 3 rows; first: \{'x': -1\}"
    with pytest.raises(DataQualityError, match=message):
        build(warehouse, sql_dir, VARIABLES, log=lines.append)
    failed = r"1 of 1 FAIL assert_x_positive \.+ \[FAIL 3 in \d+\.\d\ds\]"
    assert any(re.fullmatch(failed, line) for line in lines)
    assert "    assert_x_positive: {'x': -2}" in lines
    assert query(warehouse, "select x from fct_a") == [(1,)]
    document = json.loads((tmp_path / "run_results.json").read_text())
    assert document["tests"][0]["status"] == "fail"
    assert document["tests"][0]["first_rows"] == [{"x": -1}, {"x": -2}, {"x": -4}]


def test_warn_test_is_logged_recorded_and_build_succeeds(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {
        "marts/fct_a.sql": "select unnest([1, 2, 3]) as x",
        "tests/assert_small.sql": "{{ config(severity='warn') }}\n"
                                  "select * from {{ ref('fct_a') }} where x > 1",
        "tests/assert_present.sql": "select 1 where (select count(*) from {{ ref('fct_a') }}) = 0",
    })
    lines: list[str] = []
    results = build(warehouse, sql_dir, VARIABLES, log=lines.append)
    assert (results.passed, results.warned, results.failed) == (1, 1, 0)
    assert any(re.fullmatch(r"2 of 2 WARN assert_small \.+ \[WARN 2 in \d+\.\d\ds\]", line) for line in lines)
    assert lines[-1].startswith("Completed: 1 models, 2 tests (1 pass, 1 warn, 0 fail)")
    assert query(warehouse, "select count(*) from fct_a") == [(3,)]


def test_select_runs_the_model_and_its_upstream_on_a_copy_of_the_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {
        "staging/stg_a.sql": "select 1 as x",
        "marts/fct_b.sql": "select x + 10 as y from {{ ref('stg_a') }}",
        "marts/fct_other.sql": "select 'old' as version",
        "tests/assert_other.sql": "select * from {{ ref('fct_other') }} where version = 'broken'",
    })
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "staging" / "stg_a.sql").write_text("select 2 as x")
    (sql_dir / "marts" / "fct_other.sql").write_text("select 'broken' as version")
    lines: list[str] = []
    results = build(warehouse, sql_dir, VARIABLES, select="fct_b", log=lines.append)
    assert [m["name"] for m in results.models] == ["stg_a", "fct_b"]
    assert results.tests == []  # the only test is about a model that was not selected
    assert query(warehouse, "select y from fct_b") == [(12,)]
    assert query(warehouse, "select version from fct_other") == [("old",)]
    with pytest.raises(ModelError, match="--select 'fct_nope' is not a model"):
        build(warehouse, sql_dir, VARIABLES, select="fct_nope", log=lambda _: None)


def test_data_tests_run_alone_against_the_existing_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {
        "marts/fct_a.sql": "select 5 as x",
        "tests/assert_below.sql": "select * from {{ ref('fct_a') }} where x > {{ var('limit') }}",
    })
    with pytest.raises(ModelError, match="no warehouse"):
        runner.test(warehouse, sql_dir, {"limit": 10}, log=lambda _: None)
    build(warehouse, sql_dir, {"limit": 10}, log=lambda _: None)
    assert runner.test(warehouse, sql_dir, {"limit": 10}, log=lambda _: None).passed == 1
    with pytest.raises(DataQualityError, match="assert_below failed: 1 rows; first: {'x': 5}"):
        runner.test(warehouse, sql_dir, {"limit": 1}, log=lambda _: None)


SLOW_BUILD = """
import sys
from pathlib import Path
from report.models.runner import build
from report.settings import SQL_DIR
build(Path(sys.argv[1]), Path(sys.argv[2]), {}, log=lambda line: print(line, flush=True))
"""


def test_killed_build_leaves_previous_warehouse_readable(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {"marts/fct_a.sql": "select 'previous' as version"})
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "marts" / "fct_a.sql").write_text("select 'new' as version")
    # A model that computes for minutes: the build is certainly inside it when killed.
    (sql_dir / "marts" / "fct_slow.sql").write_text(
        "select sum(hash(i)) as h from range(100000000000) as t(i)")
    child = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(warehouse), str(sql_dir)],
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if "fct_a" in line:
                break
        time.sleep(0.3)
        assert child.poll() is None
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    # the killed transaction had replaced fct_a and begun fct_slow: neither is in the warehouse
    assert query(warehouse, "select version from fct_a") == [("previous",)]
    assert query(warehouse, "select table_name from information_schema.tables") == [("fct_a",)]
    (sql_dir / "marts" / "fct_slow.sql").unlink()
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    assert query(warehouse, "select version from fct_a") == [("new",)]


def test_second_concurrent_build_is_refused_while_the_first_holds_the_lock(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    sql_dir = write_project(tmp_path, {"marts/fct_a.sql": "select 1 as x"})
    with open(tmp_path / "w.duckdb.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running build holds it
        with pytest.raises(ModelError, match="another build is writing .*w.duckdb: wait for it to finish"):
            build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    assert query(warehouse, "select x from fct_a") == [(1,)]


MACROS = {
    "macros/columns.sql": "{# the columns, stated once #}\n"
                          "{% macro column_names() %}{{ return(['a', 'b']) }}{% endmacro %}\n"
                          "{% macro prefixed(prefix='') -%}\n"
                          "{% for name in column_names() %}{{ prefix }}{{ name }}{{ ', ' if not loop.last }}"
                          "{% endfor %}\n{%- endmacro %}\n",
    # a macro calling a macro from another file, and one reading a run variable
    "macros/sums.sql": "{% macro summed() %}{% for name in column_names() %}sum({{ name }}) as {{ name }}"
                       "{{ ', ' if not loop.last }}{% endfor %}{% endmacro %}\n"
                       "{% macro limit_value() %}{{ var('limit', 99) }}{% endmacro %}\n",
    "staging/stg_pairs.sql": "select range as a, range * 10 as b from range(4)",
    "marts/fct_pairs.sql": "select {{ prefixed('pairs.') }} from {{ ref('stg_pairs') }} as pairs",
    "marts/fct_sums.sql": "select {{ summed() }} from {{ ref('fct_pairs') }}",
    "tests/assert_small.sql": "select * from {{ ref('fct_pairs') }} where a > {{ limit_value() }}",
}


def test_macros_folder_gives_every_model_and_test_its_macros_and_is_never_a_model(tmp_path):
    sql_dir = write_project(tmp_path, MACROS)
    warehouse = tmp_path / "w.duckdb"
    results = build(warehouse, sql_dir, VARIABLES, log=lambda _: None)
    assert [m["name"] for m in results.models] == ["stg_pairs", "fct_pairs", "fct_sums"]
    assert query(warehouse, "select a, b from fct_sums") == [(6, 60)]
    assert [(t["name"], t["status"]) for t in results.tests] == [("assert_small", "pass")]
    with pytest.raises(DataQualityError, match="assert_small failed: 2 rows"):
        build(warehouse, sql_dir, {**VARIABLES, "limit": 1}, log=lambda _: None)


def test_macro_files_with_stray_text_or_clashing_names_are_refused(tmp_path):
    sql_dir = write_project(tmp_path, {"macros/bad.sql": "{% macro m() %}1{% endmacro %}\nselect 1 as x\n",
                                       "marts/fct_a.sql": "select {{ m() }} as x"})
    with pytest.raises(ModelError, match=r"macros/bad\.sql holds text outside \{% macro %\} blocks"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "macros" / "bad.sql").write_text("{% macro m() %}1{% endmacro %}\n")
    (sql_dir / "macros" / "again.sql").write_text("{% macro m() %}2{% endmacro %}\n")
    with pytest.raises(ModelError, match=r"two macros are named 'm' \(.*again\.sql and .*bad\.sql\)"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)
    (sql_dir / "macros" / "again.sql").write_text("{% macro ref(name) %}{{ name }}{% endmacro %}\n")
    with pytest.raises(ModelError, match=r"again\.sql defines macro 'ref', a name the runner"):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)


def test_project_files_exist_macro_answers_from_the_filesystem(tmp_path):
    project = write_project(tmp_path, {
        "marts/fct_found.sql": "select {{ files_exist(var('landing_path') ~ '/*.json') }} as found",
    })
    shutil.copytree(SQL_DIR / "macros", project / "macros")
    landing = tmp_path / "it's landing"  # a quote in the path, doubled as inside a SQL string literal
    landing.mkdir()
    variables = {"landing_path": landing.as_posix().replace("'", "''")}
    warehouse = tmp_path / "w.duckdb"
    build(warehouse, project, variables, log=lambda _: None)
    assert query(warehouse, "select found from fct_found") == [(False,)]
    (landing / "page-00001.json").write_text("{}")
    build(warehouse, project, variables, log=lambda _: None)
    assert query(warehouse, "select found from fct_found") == [(True,)]


def test_project_measure_macros_state_the_six_measures_once(tmp_path):
    project = write_project(tmp_path, {
        "staging/stg_rows.sql": "select 'btc' as asset, {% for name, type in measure_types().items() %}"
                                "{{ loop.index }}::{{ type }} as {{ name }}{{ ', ' if not loop.last }}"
                                "{% endfor %} from range(3)",
        "marts/fct_copied.sql": "select {{ liquidation_measures('r.') }} from {{ ref('stg_rows') }} as r",
        "marts/fct_summed.sql": "select asset, {{ sum_measures() }} from {{ ref('stg_rows') }} group by 1",
    })
    shutil.copytree(SQL_DIR / "macros", project / "macros")
    warehouse = tmp_path / "w.duckdb"
    build(warehouse, project, VARIABLES, log=lambda _: None)
    measures = ["total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount"]
    for table in ("fct_copied", "fct_summed"):
        columns = query(warehouse, "select column_name, data_type from information_schema.columns "
                                   f"where table_name = '{table}' and column_name <> 'asset'")
        assert columns == [(name, "BIGINT" if name.endswith("_trades") else "DOUBLE") for name in measures]
    assert query(warehouse, "select * exclude (asset) from fct_summed") == [(3, 6.0, 9, 12.0, 15, 18.0)]


def test_project_history_start_macro_has_one_default_and_takes_the_run_variable(tmp_path):
    project = write_project(tmp_path, {"marts/fct_start.sql": "select {{ history_start() }} as first_hour"})
    shutil.copytree(SQL_DIR / "macros", project / "macros")
    warehouse = tmp_path / "w.duckdb"
    build(warehouse, project, VARIABLES, log=lambda _: None)
    assert query(warehouse, "select first_hour::varchar from fct_start") == [("2025-01-08 00:00:00",)]
    build(warehouse, project, {**VARIABLES, "history_start": "2024-06-01 00:00:00"}, log=lambda _: None)
    assert query(warehouse, "select first_hour::varchar from fct_start") == [("2024-06-01 00:00:00",)]


def test_a_folder_without_models_is_an_error_naming_it(tmp_path):
    sql_dir = write_project(tmp_path, {"tests/assert_nothing.sql": "select 1 where false"})
    with pytest.raises(ModelError, match=rf"found no models \(\*\.sql\) in {re.escape(str(sql_dir))}: "):
        build(tmp_path / "w.duckdb", sql_dir, VARIABLES, log=lambda _: None)
    assert not (tmp_path / "w.duckdb").exists()


INCREMENTAL = {
    "staging/stg_events.sql": "select * from read_csv('{{ var(\"events\") }}', header = true, "
                              "columns = {'batch': 'integer', 'k': 'integer', 'v': 'varchar'})",
    "marts/fct_latest.sql": "{{ config(materialized='incremental', unique_key=['k'], "
                            "incremental_strategy='delete+insert') }}\n"
                            "select k, v, batch, {{ 'true' if is_incremental() else 'false' }} as merged\n"
                            "from {{ ref('stg_events') }}\n"
                            "{% if is_incremental() %}\n"
                            "where batch > (select max(batch) from {{ this }})\n"
                            "{% endif %}\n",
    "tests/assert_v_not_broken.sql": "select * from {{ ref('fct_latest') }} where v = 'broken'",
}


def write_events(path: Path, rows: list[tuple[int, int, str]]) -> None:
    path.write_text("batch,k,v\n" + "".join(f"{batch},{k},{v}\n" for batch, k, v in rows))


def test_incremental_model_inserts_new_rows_replaces_rows_on_its_key_and_full_refresh_rebuilds(tmp_path):
    events = tmp_path / "events.csv"
    sql_dir = write_project(tmp_path, INCREMENTAL)
    warehouse, variables = tmp_path / "w.duckdb", {"events": events.as_posix()}
    write_events(events, [(1, 1, "a"), (1, 2, "b")])
    build(warehouse, sql_dir, variables, log=lambda _: None)
    assert query(warehouse, "select k, v, merged from fct_latest order by k") == [
        (1, "a", False), (2, "b", False)]
    # batch 2 revises k=2 and adds k=3: delete+insert on k keeps one row per key, the newest
    write_events(events, [(1, 1, "a"), (1, 2, "b"), (2, 2, "B"), (2, 3, "c")])
    lines: list[str] = []
    results = build(warehouse, sql_dir, variables, log=lines.append)
    assert query(warehouse, "select k, v, merged from fct_latest order by k") == [
        (1, "a", False), (2, "B", True), (3, "c", True)]
    assert any(re.fullmatch(r"2 of 2 OK created sql incremental model fct_latest \.+ "
                            r"\[OK 3 rows \(2 new rows\) in \d+\.\d\ds\]", line) for line in lines), lines
    assert results.models[1]["incremental"] == "2 new rows"
    # a full refresh reads everything again: k=2 of both batches, as the SQL says without is_incremental()
    build(warehouse, sql_dir, variables, full_refresh=True, log=lambda _: None)
    assert query(warehouse, "select k, v, merged from fct_latest order by k, v") == [
        (1, "a", False), (2, "B", False), (2, "b", False), (3, "c", False)]


def test_incremental_model_is_rebuilt_in_full_when_its_sql_changes(tmp_path):
    events = tmp_path / "events.csv"
    sql_dir = write_project(tmp_path, INCREMENTAL)
    warehouse, variables = tmp_path / "w.duckdb", {"events": events.as_posix()}
    write_events(events, [(1, 1, "a")])
    build(warehouse, sql_dir, variables, log=lambda _: None)
    model = sql_dir / "marts" / "fct_latest.sql"
    model.write_text(model.read_text().replace("select k, v,", "select k, upper(v) as v,"))
    build(warehouse, sql_dir, variables, log=lambda _: None)
    assert query(warehouse, "select k, v, merged from fct_latest") == [(1, "A", False)]


def test_failed_build_rolls_back_every_model_and_the_incremental_merge(tmp_path):
    events = tmp_path / "events.csv"
    sql_dir = write_project(tmp_path, INCREMENTAL)
    warehouse, variables = tmp_path / "w.duckdb", {"events": events.as_posix()}
    write_events(events, [(1, 1, "a"), (1, 2, "b")])
    build(warehouse, sql_dir, variables, log=lambda _: None)
    write_events(events, [(1, 1, "a"), (1, 2, "b"), (2, 2, "broken"), (2, 3, "c")])
    with pytest.raises(DataQualityError, match="assert_v_not_broken failed: 1 rows"):
        build(warehouse, sql_dir, variables, log=lambda _: None)
    assert query(warehouse, "select k, v from fct_latest order by k") == [(1, "a"), (2, "b")]
    # the merge that did not commit is merged again once the data is fixed
    write_events(events, [(1, 1, "a"), (1, 2, "b"), (2, 2, "B"), (2, 3, "c")])
    build(warehouse, sql_dir, variables, log=lambda _: None)
    assert query(warehouse, "select k, v from fct_latest order by k") == [(1, "a"), (2, "B"), (3, "c")]


def test_a_view_unchanged_in_sql_and_definition_is_not_created_again_and_reads_the_new_tables(tmp_path):
    """A view binds its query when read: kept as it was, it still reads the tables this build wrote. One
    whose SQL or definition changed is created again."""
    numbers = tmp_path / "numbers.csv"
    sql_dir = write_project(tmp_path, {
        "staging/stg_numbers.sql": "{{ config(materialized='table') }}\n"
                                   "select n from read_csv('{{ var('csv') }}', header = true)\n",
        "marts/fct_kept.sql": "{{ config(materialized='incremental', unique_key='n') }}\n"
                              "select n from {{ ref('stg_numbers') }}\n",
        "marts/fct_total.sql": "{{ config(materialized='view') }}\n"
                               "select sum(n) as total, {{ var('label', 0) }} as label "
                               "from {{ ref('stg_numbers') }}\n",
    })
    warehouse = tmp_path / "out" / "warehouse.duckdb"

    def build_with(values: list[int], label: int) -> dict[str, str]:
        numbers.write_text("n\n" + "".join(f"{value}\n" for value in values))
        results = build(warehouse, sql_dir, {**VARIABLES, "csv": numbers.as_posix(), "label": label},
                        log=lambda line: None)
        return {model["name"]: model.get("incremental", "") for model in results.models}

    assert build_with([1, 2], 0)["fct_total"] == ""
    assert query(warehouse, "select total, label from fct_total") == [(3, 0)]
    assert build_with([1, 2, 3], 0)["fct_total"] == "unchanged"
    assert query(warehouse, "select total, label from fct_total") == [(6, 0)]
    assert build_with([1, 2, 3], 7)["fct_total"] == ""  # its SQL changed: created again
    assert query(warehouse, "select total, label from fct_total") == [(6, 7)]


def test_run_query_answers_a_model_and_its_hooks_once_and_every_model_afresh(tmp_path):
    """A question a model's SQL and its pre_hook both ask (stg_landing_fetches' listing of the manifests) is
    asked of DuckDB once while that model compiles; the next model asks again and sees what ran since."""
    asked = "select nextval('asked')"
    answer = "{{ run_query(\"" + asked + "\").rows[0][0] if execute else 0 }}"
    sql_dir = write_project(tmp_path, {
        "staging/stg_sequence.sql": "{{ config(materialized='table', "
                                    "pre_hook=\"create sequence if not exists asked\") }}\n"
                                    "select 1 as one\n",
        "marts/fct_first.sql": "{{ config(materialized='table', pre_hook=\"create table first_hook as "
                               "select {{ run_query(\\\"" + asked + "\\\").rows[0][0] }} as n\") }}\n"
                               "-- depends_on: {{ ref('stg_sequence') }}\n"
                               "select " + answer + " as n\n",
        "marts/fct_second.sql": "-- depends_on: {{ ref('fct_first') }}\nselect " + answer + " as n\n",
    })
    warehouse = tmp_path / "out" / "warehouse.duckdb"
    build(warehouse, sql_dir, VARIABLES, log=lambda line: None)
    first = query(warehouse, "select n from fct_first")[0][0]
    assert query(warehouse, "select n from first_hook") == [(first,)]
    assert query(warehouse, "select n from fct_second")[0][0] == first + 1
