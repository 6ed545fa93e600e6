"""A small dbt-style runner: SQL files with ref()/var()/config(), a DAG, views, tables and incremental
models, data tests, all in one transaction.

Every `*.sql` under sql_dir is a model named by its file stem, except sql_dir/tests (the data tests) and
sql_dir/macros (Jinja macros every model and test may call). As in dbt, models are parsed first (execute is
false) for their refs and config, then each is compiled just before it runs, against the warehouse being
built: `is_incremental()`, `{{ this }}` and `run_query()` see it. The whole build — every model and every
data test — is one DuckDB transaction on the warehouse itself, committed only when every model and every
error-level test passed: a failed, killed or interrupted build leaves the previous warehouse as it was,
without copying it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb
import jinja2

from report.errors import ModelError, ReportError, storage_error
from report.files import write_atomically
from report.models import datatests
from report.models.console import progress_line

Log = Callable[[str], None]
MATERIALIZATIONS = ("view", "table", "incremental")
INCREMENTAL_STRATEGIES = ("delete+insert", "append")
# What the runner keeps about the incremental models it built, beside (not among) the models' tables.
STATE_SCHEMA = "_liqreport"
STATE_TABLE = f"{STATE_SCHEMA}.incremental_models"
# The error-level data tests that passed in the last committed build, with the definition they ran with.
TESTS_STATE_TABLE = f"{STATE_SCHEMA}.data_tests"
# The views as last created: a view whose compiled SQL and definition are unchanged is not created again.
VIEWS_STATE_TABLE = f"{STATE_SCHEMA}.views"


@dataclass
class Model:
    name: str
    path: Path
    source: str
    sql: str = ""
    materialized: str = "table"
    refs: set[str] = field(default_factory=set)
    config: dict = field(default_factory=dict)
    variables_used: dict = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def unique_key(self) -> list[str]:
        key = self.config.get("unique_key") or []
        return [key] if isinstance(key, str) else list(key)


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


class Flag:
    """A bool read when asked (dbt's `execute`): the macros' module keeps the object, not one value."""

    def __init__(self, read: Callable[[], bool]):
        self.read = read

    def __bool__(self) -> bool:
        return bool(self.read())


class This:
    """dbt's `{{ this }}`: the relation of the model being compiled."""

    def __init__(self, renderer: Renderer):
        self.renderer = renderer

    def __str__(self) -> str:
        if self.renderer.this is None:
            raise ModelError(f"{self.renderer.path} uses {{{{ this }}}} outside a model.")
        return self.renderer.this


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
        self.variables_used: dict = {}
        # what the model being compiled may ask: dbt's execute, this and is_incremental()
        self.executing = True
        self.this: str | None = None
        self.incremental = False
        self.connection: duckdb.DuckDBPyConnection | None = None  # the warehouse being built
        # while one model and its hooks are compiled: run_query's answers by SQL, so a question its SQL and
        # its pre_hook both ask (a listing of the landing zone) is answered once; nothing ran in between
        self.answers: dict[str, QueryResult] | None = None
        # what this build merged into each incremental model: relation → (table of its keys, the key columns)
        self.written: dict[str, tuple[str, list[str]]] = {}
        self.trusted_tests: set[str] = set()  # tests that passed, as defined now, in the last committed build
        self.templates: dict[str, jinja2.Template] = {}  # model, test and hook sources, compiled
        self.namespace: dict = {"ref": self.ref, "var": self.var, "config": self.set_config,
                                "return": macro_return, "run_query": self.run_query,
                                "execute": Flag(lambda: self.executing), "this": This(self),
                                "is_incremental": lambda: self.incremental,
                                "liqreport_rows_written": self.rows_written}
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
            self.variables_used[name] = self.variables[name]
            return self.variables[name]
        if default:
            self.variables_used[name] = default[0]
            return default[0]
        known = ", ".join(sorted(self.variables)) or "none"
        raise ModelError(f"{self.path} uses var({name!r}) but no such variable was given: use one of {known} "
                         "(the build's variables come from report/pipeline.py model_variables).")

    def rows_written(self, model: str) -> str:
        """The rows of `model` (a ref()) that this build merged, for an error-level data test that checks rows
        one key at a time: every row the build did not write was in the last committed warehouse, where this
        test, as it is now, passed. Anything else — a full refresh, a model rebuilt whole, a warning (its
        count is reported), a test new or changed, a last build that skipped tests — sees the whole model."""
        if model not in self.written or self.path is None or self.path.stem not in self.trusted_tests \
                or self.config.get("severity") != "error":
            return model
        keys_table, keys = self.written[model]
        matches = " and ".join(f"{model}.{key} is not distinct from written.{key}" for key in keys)
        return f"(select {model}.* from {model} semi join {keys_table} as written on {matches})"

    def set_config(self, **values) -> str:
        self.config.update(values)
        return ""

    def run_query(self, sql: str) -> QueryResult | None:
        """As dbt's: None while parsing; then against the warehouse being built (or, outside a build, an
        in-memory database, enough for the filesystem)."""
        if not self.executing:
            return None
        if self.answers is not None and sql in self.answers:
            return self.answers[sql]
        try:
            if self.connection is not None:
                cursor = self.connection.execute(sql)
                result = QueryResult([column[0] for column in cursor.description], cursor.fetchall())
                if self.answers is not None:
                    self.answers[sql] = result
                return result
            with duckdb.connect() as connection:
                cursor = connection.execute(sql)
                return QueryResult([column[0] for column in cursor.description], cursor.fetchall())
        except duckdb.Error as exc:
            raise ModelError(f"{self.path}: run_query failed: {exc}") from None

    def render(self, path: Path, source: str, default_config: dict) -> tuple[str, set[str], dict]:
        self.path, self.refs, self.config, self.variables_used = path, set(), dict(default_config), {}
        try:
            # compiled once per source: a build renders each model twice (parse, run) and each test twice
            template = self.templates.get(source)
            if template is None:
                template = self.environment.from_string(source, globals=self.namespace)
                self.templates[source] = template
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
    """Parse every model (execute is false, as in dbt's parse) for its refs and config; order them."""
    models = discover_models(sql_dir)
    renderer = Renderer(variables, set(models), sql_dir / "macros")
    renderer.executing = False
    for model in models.values():
        default = {"materialized": default_materialization(sql_dir, model.path)}
        renderer.this = relation(model.name)
        model.sql, model.refs, model.config = renderer.render(model.path, model.source, default)
        model.refs, model.config = set(model.refs), dict(model.config)
        model.materialized = model.config["materialized"]
        if model.materialized not in MATERIALIZATIONS:
            raise ModelError(f"{model.path} asks for materialized={model.materialized!r}: "
                             "use 'view', 'table' or 'incremental'.")
        strategy = model.config.get("incremental_strategy", "delete+insert")
        if model.materialized == "incremental" and strategy not in INCREMENTAL_STRATEGIES:
            raise ModelError(f"{model.path} asks for incremental_strategy={strategy!r}: "
                             "use 'delete+insert' (with unique_key) or 'append'.")
    renderer.this, renderer.executing = None, True
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
    macros = "".join(path.read_text() for path in sorted((sql_dir / "macros").glob("*.sql")))
    for name in order:
        fingerprint(models[name], models, macros)
    return models, order, renderer


def fingerprint(model: Model, models: dict[str, Model], macros: str) -> None:
    """What an incremental model's rows were built from: its SQL, the macros, the variables it read and
    its upstream models' fingerprints. Rows kept from a build with another fingerprint would mix two
    definitions, so a change rebuilds the model in full (dbt leaves that to --full-refresh)."""
    digest = hashlib.sha256()
    for part in (model.source, macros, json.dumps(model.variables_used, sort_keys=True, default=str),
                 *sorted(models[ref].fingerprint for ref in model.refs)):
        digest.update(part.encode())
        digest.update(b"\0")
    model.fingerprint = digest.hexdigest()


def compile_model(renderer: Renderer, model: Model, connection,
                  incremental: bool) -> tuple[str, dict[str, list[str]]]:
    """The model's SQL as it runs now (dbt compiles each node just before running it), and its pre_hook and
    post_hook statements, rendered in the same context (as dbt renders a hook when it runs; empty ones
    dropped)."""
    renderer.this, renderer.incremental, renderer.connection = relation(model.name), incremental, connection
    renderer.answers = {}  # the model and its hooks are rendered before any of them runs
    try:
        sql, _, config = renderer.render(model.path, model.source, model.config)
        hooks = {}
        for kind in ("pre_hook", "post_hook"):
            given = config.get(kind) or []
            rendered = [renderer.render(model.path, hook, dict(config))[0].strip().rstrip(";")
                        for hook in ([given] if isinstance(given, str) else given)]
            hooks[kind] = [hook for hook in rendered if hook]
    finally:
        renderer.this, renderer.incremental, renderer.connection = None, False, None
        renderer.answers = None
    return sql.strip().rstrip(";"), hooks


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


def model_error(model: Model, sql_dir: Path, exc: duckdb.Error) -> ReportError:
    if (full_disk := storage_error(exc)) is not None:
        return full_disk
    where = model.path.relative_to(sql_dir.parent) if model.path.is_relative_to(sql_dir.parent) \
        else model.path
    return ModelError(f"model {model.name} ({where}) failed: {exc}")


def ensure_state(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"create schema if not exists {STATE_SCHEMA}")
    connection.execute(f"create table if not exists {STATE_TABLE} (name varchar primary key, "
                       "fingerprint varchar not null, built_at timestamp not null)")
    connection.execute(f"create table if not exists {TESTS_STATE_TABLE} (name varchar primary key, "
                       "fingerprint varchar not null, passed_at timestamp not null)")
    connection.execute(f"create table if not exists {VIEWS_STATE_TABLE} (name varchar primary key, "
                       "fingerprint varchar not null, created_at timestamp not null)")


def built_fingerprint(connection: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = connection.execute(f"select fingerprint from {STATE_TABLE} where name = ?", [name]).fetchone()
    return row[0] if row else None


def materialize(connection: duckdb.DuckDBPyConnection, model: Model, sql_dir: Path, renderer: Renderer,
                full_refresh: bool = False) -> tuple[int | None, str]:
    """Create the model; returns (rows in the table, or None for a view; what was done)."""
    kind = existing_kind(connection, model.name)
    incremental = (model.materialized == "incremental" and not full_refresh and kind == "table"
                   and built_fingerprint(connection, model.name) == model.fingerprint)
    try:
        body, hooks = compile_model(renderer, model, connection, incremental)
        for hook in hooks["pre_hook"]:
            connection.execute(hook)
        if kind is not None and kind != ("view" if model.materialized == "view" else "table"):
            connection.execute(f"drop {kind} {relation(model.name)}")
        if model.materialized == "view" and kind == "view" and not full_refresh \
                and not hooks["pre_hook"] + hooks["post_hook"] and view_unchanged(connection, model, body):
            return None, "unchanged"
        if incremental:
            merged = merge_increment(connection, model, body)
            done = f"{merged} new rows"
            strategy = model.config.get("incremental_strategy", "delete+insert")
            if strategy == "delete+insert" and model.unique_key:
                renderer.written[relation(model.name)] = (written_keys_table(model.name), model.unique_key)
        else:
            created = "view" if model.materialized == "view" else "table"
            connection.execute(f"create or replace {created} {relation(model.name)} as\n{body}")
            done = ""
        for hook in hooks["post_hook"]:
            connection.execute(hook)
        if model.materialized == "incremental":
            connection.execute(f"insert or replace into {STATE_TABLE} values (?, ?, now()::timestamp)",
                               [model.name, model.fingerprint])
        if model.materialized == "view" and has_views_state(connection):
            connection.execute(f"insert or replace into {VIEWS_STATE_TABLE} values (?, ?, now()::timestamp)",
                               [model.name, view_fingerprint(model, body)])
        if model.materialized == "view":
            return None, done
        return connection.execute(f"select count(*) from {relation(model.name)}").fetchone()[0], done
    except duckdb.Error as exc:
        raise model_error(model, sql_dir, exc) from None


def view_fingerprint(model: Model, body: str) -> str:
    return hashlib.sha256(f"{model.fingerprint}\0{body}".encode()).hexdigest()


def has_views_state(connection: duckdb.DuckDBPyConnection) -> bool:
    return existing_kind_in(connection, STATE_SCHEMA, "views") is not None


def view_unchanged(connection: duckdb.DuckDBPyConnection, model: Model, body: str) -> bool:
    """The view exists as this build would create it: the same compiled SQL from the same definition. DuckDB
    binds a view's query when it is read, so it sees the tables built now; creating it again would only bind
    it once more (for a view over the landed files, a listing of every page)."""
    if not has_views_state(connection):
        return False
    row = connection.execute(f"select fingerprint from {VIEWS_STATE_TABLE} where name = ?",
                             [model.name]).fetchone()
    return row is not None and row[0] == view_fingerprint(model, body)


BATCH = "__liqreport_batch"


def written_keys_table(name: str) -> str:
    return relation(f"__liqreport_written_{name}")


def merge_increment(connection: duckdb.DuckDBPyConnection, model: Model, body: str) -> int:
    """dbt's delete+insert: the model's new rows into a temporary table; the target's rows that share a
    unique_key with them deleted through a join on a small table of the batch's distinct keys (not a
    correlated multi-column IN, which crawls); then the batch inserted by column name. The keys table stays
    until the build ends: the data tests read the rows written through it (Renderer.rows_written)."""
    target = relation(model.name)
    connection.execute(f"create or replace temporary table {BATCH} as\n{body}")
    try:
        ours = connection.execute(f"select column_name, data_type from information_schema.columns "
                                  f"where table_name = '{BATCH}' order by ordinal_position").fetchall()
        theirs = connection.execute("select column_name, data_type from information_schema.columns "
                                    "where table_schema = 'main' and table_name = ? "
                                    "order by ordinal_position", [model.name]).fetchall()
        if sorted(ours) != sorted(theirs):
            raise ModelError(f"incremental model {model.name}'s new rows have columns {ours}, its table "
                             f"{theirs}: run `liqreport build --full-refresh`.")
        strategy = model.config.get("incremental_strategy", "delete+insert")
        if strategy == "delete+insert" and model.unique_key:
            keys, written = ", ".join(model.unique_key), written_keys_table(model.name)
            connection.execute(f"create or replace temporary table {written} as "
                               f"select distinct {keys} from {BATCH}")
            matches = " and ".join(f"{target}.{key} is not distinct from {written}.{key}"
                                   for key in model.unique_key)
            connection.execute(f"delete from {target} using {written} where {matches}")
        connection.execute(f"insert into {target} by name select * from {BATCH}")
        return connection.execute(f"select count(*) from {BATCH}").fetchone()[0]
    finally:
        connection.execute(f"drop table if exists {BATCH}")


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


def build(warehouse: Path, sql_dir: Path, variables: dict, *, select: str | None = None,
          run_tests: bool = True, full_refresh: bool = False, log: Log = print) -> RunResults:
    """Run the models (all, or `select` and its upstream) and the data tests in one transaction on the
    warehouse; commit only when all of them passed. `full_refresh` rebuilds incremental models whole."""
    started = time.perf_counter()
    warehouse, sql_dir = Path(warehouse), Path(sql_dir)
    models, order, renderer = compile_models(sql_dir, variables)
    chosen = upstream(models, select) if select else set(models)
    order = [name for name in order if name in chosen]
    tests = datatests.discover_tests(sql_dir, renderer) if run_tests else []
    tests = [test for test in tests if test.refs <= chosen]
    macros = "".join(path.read_text() for path in sorted((sql_dir / "macros").glob("*.sql")))

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    results = RunResults(command="build")
    results_path = warehouse.parent / "run_results.json"
    with exclusive_build(warehouse):
        log(f"Running {len(order)} models and {len(tests)} data tests from {sql_dir} into {warehouse}")
        first_build = not warehouse.exists()
        try:
            with connect(warehouse) as connection:
                connection.begin()
                try:
                    if any(models[name].materialized == "incremental" for name in order):
                        ensure_state(connection)
                    renderer.trusted_tests = passed_tests(connection, tests, macros)
                    build_models(connection, models, order, sql_dir, renderer, results, log, full_refresh)
                    # compiled again now (dbt compiles a node just before it runs): they see what was written
                    tests = [datatests.compile_test(renderer, test) for test in tests]
                    datatests.run_tests(connection, tests, results, log)
                    record_passed_tests(connection, tests, macros)
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
                # fold the write-ahead log into the file now, not at the next open
                connection.execute("checkpoint")
        except BaseException as exc:
            results.elapsed_s = time.perf_counter() - started
            if first_build:  # no warehouse before, none after: not an empty file that reads as one
                for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
                    path.unlink(missing_ok=True)
            # The first error is the one to report: a full disk must not be masked by a second one here.
            with contextlib.suppress(OSError, ReportError):
                results.write(results_path)
            log(results.summary_line())
            if (full_disk := storage_error(exc, warehouse)) is not None:
                raise full_disk from None
            raise
    results.elapsed_s = time.perf_counter() - started
    results.write(results_path)
    log(results.summary_line())
    return results


def test_fingerprint(test: datatests.DataTest, macros: str) -> str:
    return hashlib.sha256(f"{test.path.read_text()}\0{macros}".encode()).hexdigest()


def passed_tests(connection, tests: list[datatests.DataTest], macros: str) -> set[str]:
    """The tests that passed, as they are defined now, in the last committed build (none without state)."""
    if existing_kind_in(connection, STATE_SCHEMA, "data_tests") is None:
        return set()
    recorded = dict(connection.execute(f"select name, fingerprint from {TESTS_STATE_TABLE}").fetchall())
    return {test.name for test in tests if recorded.get(test.name) == test_fingerprint(test, macros)}


def record_passed_tests(connection, tests: list[datatests.DataTest], macros: str) -> None:
    """After every error-level test passed: those tests, and only those, vouch for the rows committed now. A
    test that did not run (skipped, not selected) no longer does: the rows this build wrote are unchecked."""
    if existing_kind_in(connection, STATE_SCHEMA, "data_tests") is None:
        return
    connection.execute(f"delete from {TESTS_STATE_TABLE}")
    for test in tests:
        if test.severity == "error":
            connection.execute(f"insert into {TESTS_STATE_TABLE} values (?, ?, now()::timestamp)",
                               [test.name, test_fingerprint(test, macros)])


def existing_kind_in(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    row = connection.execute("select table_type from information_schema.tables where table_schema = ? "
                             "and table_name = ?", [schema, name]).fetchone()
    return None if row is None else row[0]


@contextlib.contextmanager
def exclusive_build(warehouse: Path) -> Iterator[None]:
    """One build at a time per warehouse (DuckDB would refuse the second writer with a less clear error)."""
    with open(warehouse.with_name(warehouse.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"another build is writing {warehouse}: wait for it to finish, then run again."
            raise ModelError(message) from None
        yield


def build_models(connection, models: dict[str, Model], order: list[str], sql_dir: Path, renderer: Renderer,
                 results: RunResults, log: Log, full_refresh: bool = False) -> None:
    for index, name in enumerate(order, start=1):
        model = models[name]
        began = time.perf_counter()
        record = {"name": name, "path": str(model.path), "materialized": model.materialized,
                  "status": "error", "rows": None, "elapsed_s": None}
        results.models.append(record)
        try:
            rows, how = materialize(connection, model, sql_dir, renderer, full_refresh)
        except ReportError as exc:
            record["elapsed_s"] = round(time.perf_counter() - began, 4)
            record["message"] = str(exc)
            log(progress_line(index, len(order), f"ERROR creating sql {model.materialized} model {name}",
                              f"ERROR in {record['elapsed_s']:.2f}s"))
            raise
        record.update(status="success", rows=rows, elapsed_s=round(time.perf_counter() - began, 4))
        if how:
            record["incremental"] = how
        parts = [f"{rows} rows" if rows is not None else "", f"({how})" if how else ""]
        done = " ".join(["OK", *filter(None, parts), f"in {record['elapsed_s']:.2f}s"])
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
