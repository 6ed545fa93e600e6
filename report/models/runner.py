"""A small dbt-style runner: SQL files with ref()/var()/config(), a DAG, atomic materialization, data tests.

Every `*.sql` under sql_dir is a model named by its file stem, except sql_dir/tests (the data tests) and
sql_dir/macros (Jinja macros every model and test may call). The build writes into
`<warehouse>.building` and replaces the warehouse only after every model and every error-level data test
passed, so a killed or failed build leaves the previous warehouse as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb
import jinja2

from report.errors import ModelError, ReportError, storage_error
from report.files import fsync_dir, write_atomically
from report.models import datatests
from report.models.console import progress_line

Log = Callable[[str], None]
MATERIALIZATIONS = ("view", "table")


@dataclass
class Model:
    name: str
    path: Path
    source: str
    sql: str = ""
    materialized: str = "table"
    refs: set[str] = field(default_factory=set)


@dataclass
class RunResults:
    command: str
    models: list[dict] = field(default_factory=list)
    tests: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def passed(self) -> int:
        return sum(t["status"] == "pass" for t in self.tests)

    @property
    def warned(self) -> int:
        return sum(t["status"] == "warn" for t in self.tests)

    @property
    def failed(self) -> int:
        return sum(t["status"] == "fail" for t in self.tests)

    def summary_line(self) -> str:
        return (f"Completed: {len(self.models)} models, {len(self.tests)} tests ({self.passed} pass, "
                f"{self.warned} warn, {self.failed} fail) in {self.elapsed_s:.1f}s")

    def write(self, path: Path) -> None:
        document = {
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **asdict(self),
            "summary": {"models": len(self.models), "tests": len(self.tests), "passed": self.passed,
                        "warned": self.warned, "failed": self.failed},
        }
        write_atomically(path, (json.dumps(document, indent=2, default=str) + "\n").encode())


def relation(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class MacroReturn(Exception):
    """dbt's `{{ return(value) }}`: a macro hands back a value (a list, a bool) instead of its text."""

    def __init__(self, value):
        super().__init__()
        self.value = value


def macro_return(value):
    raise MacroReturn(value)


@dataclass
class QueryResult:
    """What `run_query()` returns: the rows as tuples, like the `.rows` of dbt's agate table."""

    column_names: list[str]
    rows: list[tuple]


MACRO_BLOCK = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(.*?{%-?\s*endmacro\s*-?%}", re.S)
JINJA_COMMENT = re.compile(r"{#.*?#}", re.S)


class Macro:
    """One `{% macro %}` block compiled on its own, as dbt does, so macros call each other through the
    shared namespace (where each is wrapped to honour return()) whatever file or order they come in."""

    def __init__(self, name: str, path: Path, template: jinja2.Template):
        self.name, self.path, self.template = name, path, template
        self.macro = None

    def __call__(self, *args, **kwargs):
        if self.macro is None:  # on first call, once every macro is in the namespace
            self.macro = getattr(self.template.make_module(), self.name)
        try:
            return self.macro(*args, **kwargs)
        except MacroReturn as returned:
            return returned.value


def discover_macros(macros_dir: Path, environment: jinja2.Environment, namespace: dict) -> dict[str, Macro]:
    """Every `{% macro %}` in macros_dir/*.sql; a macros file holds macros and comments only."""
    macros: dict[str, Macro] = {}
    for path in sorted(macros_dir.glob("*.sql")):
        source = JINJA_COMMENT.sub("", path.read_text())
        blocks = list(MACRO_BLOCK.finditer(source))
        if MACRO_BLOCK.sub("", source).strip():
            raise ModelError(f"{path} holds text outside {{% macro %}} blocks: a macros file has only macros "
                             "(and comments); move models to sql/staging, sql/marts, ….")
        for block in blocks:
            name = block.group(1)
            if name in namespace:
                raise ModelError(f"{path} defines macro {name!r}, a name the runner itself provides: "
                                 "rename it.")
            if name in macros:
                raise ModelError(f"two macros are named {name!r} ({macros[name].path} and {path}): "
                                 "rename one.")
            try:
                template = environment.from_string(block.group(0), globals=namespace)
            except jinja2.TemplateSyntaxError as exc:
                raise ModelError(f"{path} is not a valid template: {exc}.") from None
            macros[name] = Macro(name, path, template)
    return macros


class Renderer:
    """Renders model and test SQL as dbt does: ref(), var(), config(), the macros in sql/macros, return(),
    run_query() and execute — Jinja, StrictUndefined."""

    def __init__(self, variables: dict, model_names: set[str], macros_dir: Path | None = None):
        self.variables = variables
        self.model_names = model_names
        self.environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                                              keep_trailing_newline=True)
        self.path: Path | None = None  # the model or test being rendered, for messages
        self.refs: set[str] = set()
        self.config: dict = {}
        self.namespace: dict = {"ref": self.ref, "var": self.var, "config": self.set_config,
                                "return": macro_return, "run_query": self.run_query, "execute": True}
        if macros_dir is not None and macros_dir.is_dir():
            self.namespace.update(discover_macros(macros_dir, self.environment, self.namespace))

    def ref(self, name: str) -> str:
        if name not in self.model_names:
            raise ModelError(f"{self.path} refers to unknown model {name!r}: add sql/.../{name}.sql "
                             "or fix the ref() name.")
        self.refs.add(name)
        return relation(name)

    def var(self, name: str, *default):
        if name in self.variables:
            return self.variables[name]
        if default:
            return default[0]
        known = ", ".join(sorted(self.variables)) or "none"
        raise ModelError(f"{self.path} uses var({name!r}) but no such variable was given: use one of {known} "
                         "(the build's variables come from report/pipeline.py model_variables).")

    def set_config(self, **values) -> str:
        self.config.update(values)
        return ""

    def run_query(self, sql: str) -> QueryResult:
        # Macros query the filesystem (DuckDB's glob()), never the warehouse: an in-memory database will do.
        try:
            with duckdb.connect() as connection:
                cursor = connection.execute(sql)
                return QueryResult([column[0] for column in cursor.description], cursor.fetchall())
        except duckdb.Error as exc:
            raise ModelError(f"{self.path}: run_query failed: {exc}") from None

    def render(self, path: Path, source: str, default_config: dict) -> tuple[str, set[str], dict]:
        self.path, self.refs, self.config = path, set(), dict(default_config)
        try:
            template = self.environment.from_string(source, globals=self.namespace)
            sql = template.render()
        except ModelError:
            raise
        except jinja2.TemplateError as exc:
            raise ModelError(f"{path} is not a valid template: {exc}.") from None
        return sql, self.refs, self.config


NOT_MODELS = ("tests", "macros")  # sql/tests holds data tests, sql/macros the macros


def discover_models(sql_dir: Path) -> dict[str, Model]:
    models: dict[str, Model] = {}
    for path in sorted(sql_dir.rglob("*.sql")):
        if path.relative_to(sql_dir).parts[0] in NOT_MODELS:
            continue
        name = path.stem
        if name in models:
            raise ModelError(f"two models are named {name!r} ({models[name].path} and {path}): "
                             "rename one, model names must be unique.")
        models[name] = Model(name=name, path=path, source=path.read_text())
    if not models:
        raise ModelError(f"found no models (*.sql) in {sql_dir}: the SQL project is missing there; "
                         "reinstall liqreport (pip install .) or build from the project's sql/ folder.")
    return models


def default_materialization(sql_dir: Path, path: Path) -> str:
    return "view" if path.relative_to(sql_dir).parts[0] == "staging" else "table"


def compile_models(sql_dir: Path, variables: dict) -> tuple[dict[str, Model], list[str], Renderer]:
    """Render every model and order them by their ref()s."""
    models = discover_models(sql_dir)
    renderer = Renderer(variables, set(models), sql_dir / "macros")
    for model in models.values():
        default = {"materialized": default_materialization(sql_dir, model.path)}
        model.sql, model.refs, config = renderer.render(model.path, model.source, default)
        model.materialized = config["materialized"]
        if model.materialized not in MATERIALIZATIONS:
            raise ModelError(f"{model.path} asks for materialized={model.materialized!r}: "
                             "use 'view' or 'table'.")
    sorter = TopologicalSorter({name: model.refs for name, model in models.items()})
    order = []
    try:
        sorter.prepare()
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
    except CycleError as exc:
        cycle = exc.args[1]
        files = " -> ".join(str(models[name].path) for name in cycle)
        raise ModelError(f"the models' ref()s form a cycle: {files}; remove one of these refs.") from None
    return models, order, renderer


def upstream(models: dict[str, Model], selected: str) -> set[str]:
    if selected not in models:
        raise ModelError(f"--select {selected!r} is not a model: use one of {', '.join(sorted(models))}.")
    wanted, stack = set(), [selected]
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(models[name].refs)
    return wanted


def existing_kind(connection: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = connection.execute(
        "select table_type from information_schema.tables where table_schema = 'main' and table_name = ?",
        [name]).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def materialize(connection: duckdb.DuckDBPyConnection, model: Model, sql_dir: Path) -> int | None:
    kind = existing_kind(connection, model.name)
    if kind is not None and kind != model.materialized:
        connection.execute(f"drop {kind} {relation(model.name)}")
    body = model.sql.strip().rstrip(";")
    try:
        connection.execute(f"create or replace {model.materialized} {relation(model.name)} as\n{body}")
        if model.materialized == "table":
            return connection.execute(f"select count(*) from {relation(model.name)}").fetchone()[0]
    except duckdb.Error as exc:
        if (full_disk := storage_error(exc)) is not None:
            raise full_disk from None
        where = model.path.relative_to(sql_dir.parent) if model.path.is_relative_to(sql_dir.parent) \
            else model.path
        raise ModelError(f"model {model.name} ({where}) failed: {exc}") from None
    return None


MEMORY_LIMIT = "800MB"


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path), read_only=read_only)
    connection.execute("set enable_progress_bar = false")  # progress goes through log, not stdout
    # Models are sets: nothing reads a table's physical order, and keeping it costs time and memory on the
    # large CREATE TABLE AS of the staging rows. The cap keeps a 50-asset × 2-year build under 1 GB RSS
    # (DuckDB spills what it can beyond it); measured in bench/README.md.
    connection.execute("set preserve_insertion_order = false")
    connection.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    return connection


def remove_quietly(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def publish_atomically(building: Path, warehouse: Path) -> None:
    with open(building, "rb") as handle:
        os.fsync(handle.fileno())
    # A stale write-ahead log belongs to the old file: replayed into the new one it would corrupt it.
    remove_quietly(warehouse.with_name(warehouse.name + ".wal"))
    os.replace(building, warehouse)
    fsync_dir(warehouse.parent)


def build(warehouse: Path, sql_dir: Path, variables: dict, *, select: str | None = None,
          run_tests: bool = True, log: Log = print) -> RunResults:
    """Run the models (all, or `select` and its upstream) and the data tests; then replace the warehouse."""
    started = time.perf_counter()
    warehouse, sql_dir = Path(warehouse), Path(sql_dir)
    models, order, renderer = compile_models(sql_dir, variables)
    chosen = upstream(models, select) if select else set(models)
    order = [name for name in order if name in chosen]
    tests = datatests.discover_tests(sql_dir, renderer) if run_tests else []
    tests = [test for test in tests if test.refs <= chosen]

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    results = RunResults(command="build")
    results_path = warehouse.parent / "run_results.json"
    building = warehouse.with_name(warehouse.name + ".building")
    with exclusive_build(warehouse):
        remove_quietly(building, building.with_name(building.name + ".wal"))
        if select and warehouse.exists():
            shutil.copy2(warehouse, building)
        log(f"Running {len(order)} models and {len(tests)} data tests from {sql_dir} into {warehouse}")
        try:
            with connect(building) as connection:
                build_models(connection, models, order, sql_dir, results, log)
                datatests.run_tests(connection, tests, results, log)
                connection.execute("checkpoint")
        except BaseException as exc:
            results.elapsed_s = time.perf_counter() - started
            remove_quietly(building, building.with_name(building.name + ".wal"))
            # The first error is the one to report: a full disk must not be masked by a second one here.
            with contextlib.suppress(OSError, ReportError):
                results.write(results_path)
            log(results.summary_line())
            if (full_disk := storage_error(exc, building)) is not None:
                raise full_disk from None
            raise
        publish_atomically(building, warehouse)
    results.elapsed_s = time.perf_counter() - started
    results.write(results_path)
    log(results.summary_line())
    return results


@contextlib.contextmanager
def exclusive_build(warehouse: Path) -> Iterator[None]:
    """One build at a time per warehouse: two would share (and delete) the same .building file."""
    with open(warehouse.with_name(warehouse.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"another build is writing {warehouse}: wait for it to finish, then run again."
            raise ModelError(message) from None
        yield


def build_models(connection, models: dict[str, Model], order: list[str], sql_dir: Path, results: RunResults,
                 log: Log) -> None:
    for index, name in enumerate(order, start=1):
        model = models[name]
        began = time.perf_counter()
        record = {"name": name, "path": str(model.path), "materialized": model.materialized,
                  "status": "error", "rows": None, "elapsed_s": None}
        results.models.append(record)
        try:
            rows = materialize(connection, model, sql_dir)
        except ModelError as exc:
            record["elapsed_s"] = round(time.perf_counter() - began, 4)
            record["message"] = str(exc)
            log(progress_line(index, len(order), f"ERROR creating sql {model.materialized} model {name}",
                              f"ERROR in {record['elapsed_s']:.2f}s"))
            raise
        record.update(status="success", rows=rows, elapsed_s=round(time.perf_counter() - began, 4))
        done = f"OK {rows} rows in {record['elapsed_s']:.2f}s" if rows is not None else \
            f"OK in {record['elapsed_s']:.2f}s"
        log(progress_line(index, len(order), f"OK created sql {model.materialized} model {name}", done))


def test(warehouse: Path, sql_dir: Path, variables: dict, *, log: Log = print) -> RunResults:
    """Run the data tests against the existing warehouse, read-only."""
    started = time.perf_counter()
    warehouse, sql_dir = Path(warehouse), Path(sql_dir)
    if not warehouse.exists():
        raise ModelError(f"there is no warehouse at {warehouse}: run `liqreport build` first.")
    _, _, renderer = compile_models(sql_dir, variables)
    tests: list[datatests.DataTest] = datatests.discover_tests(sql_dir, renderer)
    results = RunResults(command="test")
    log(f"Running {len(tests)} data tests against {warehouse}")
    try:
        with connect(warehouse, read_only=True) as connection:
            datatests.run_tests(connection, tests, results, log)
    finally:
        results.elapsed_s = time.perf_counter() - started
        results.write(warehouse.parent / "run_results.json")
    log(results.summary_line())
    return results
