"""Incremental builds equal a full refresh, table for table, after any sequence of fetches: new weeks,
re-fetched windows with revised numbers, superseded fetches, a quarantined page, a kill between builds, a
fetch folder removed from disk; and ranges (manifest_version 3): multi-week backfills whose pages span two
weeks, a range killed part-way (the weeks it passed are kept), a range built while its chain runs (its
manifest rewritten in place afterwards), a range superseded by a newer fetch of some of its weeks, a range
whose chain breaks its bounds (discarded after a build saw its first weeks), and an older liqreport's
one-week folder (manifest_version 1) beside them."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
from dbt_parity import compare_warehouses
from landing_fixtures import land_fetch, land_from_api, model_variables, synthetic_rows

from report.errors import DataQualityError, FetchError, ReportError
from report.fetch.fetcher import fetch_range
from report.fetch.landing import new_fetch_id
from report.fetch.progress import Progress
from report.models.runner import build, compile_models
from report.models.runner import test as run_data_tests
from report.periods import iso_week
from report.settings import SQL_DIR, Settings
from report.simulator import DEMO_API_KEY, running_simulator
from report.simulator.server import FaultPlan

ASSETS = ("btc", "eth")
FIRST_WEEK = iso_week("2025-W06")
KILLED_BUILD = """
import json, sys
from pathlib import Path
from report.models.runner import build, compile_models
from report.models.runner import test as run_data_tests
from report.settings import SQL_DIR
build(Path(sys.argv[1]), SQL_DIR, json.loads(sys.argv[2]), log=lambda line: print(line, flush=True))
"""
KILLED_FETCH = """
import json, sys
from datetime import datetime
from pathlib import Path
from report.fetch.fetcher import fetch_range
from report.fetch.progress import Progress
from report.settings import Settings

class SayWindows(Progress):
    def changed(self):
        print(f"windows {self.windows}", flush=True)

values = json.loads(sys.argv[1])
settings = Settings(**{**values, "assets": tuple(values["assets"]), "output_dir": Path(values["output_dir"])})
fetch_range(settings, datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3]),
            log=lambda line: None, progress=SayWindows())
"""
PAGE_SIZE = 120  # two 168-hour weeks are one chain of 3 pages (not 2 + 2), the middle page spans both


def quiet(_line: str) -> None:
    pass


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def week_start(number: int) -> datetime:
    return FIRST_WEEK.start + timedelta(weeks=number)


class Landing:
    """The landing zone as the fetcher leaves it, on the simulator, plus both warehouses built from it."""

    def __init__(self, root: Path, simulator):
        self.root, self.simulator = root, simulator
        self.settings = Settings(output_dir=root / "output", base_url=simulator.base_url,
                                 api_key=DEMO_API_KEY, assets=ASSETS, max_attempts=2, timeout_s=5,
                                 page_size=PAGE_SIZE)
        self.weeks = 0  # weeks asked for so far, from FIRST_WEEK
        self.first_gap: int | None = None  # the first of them a failed or killed fetch left missing
        self.builds = 0

    def fetch(self, assets, first: int, last: int, *, refresh: bool = False, progress=None,
              **changes) -> None:
        fetch_range(self.settings.with_(assets=tuple(assets), **changes), week_start(first),
                    week_start(last + 1), refresh=refresh, log=quiet, progress=progress)

    def ask_weeks(self, count: int, *, gap: bool = False) -> tuple[int, int]:
        """The next `count` weeks (first, last); `gap`: a fetch of them may leave some missing."""
        first, self.weeks = self.weeks, self.weeks + count
        if gap and self.first_gap is None:
            self.first_gap = first
        return first, self.weeks - 1

    def variables(self) -> dict:
        last = week_start(max(self.weeks - 1, 0))
        return model_variables(self.settings.landing_dir, last, last + timedelta(weeks=1))

    def build_both(self) -> list[str]:
        """Build the kept warehouse incrementally and a new one in full; their differences (none, or both
        builds failed alike)."""
        self.builds += 1
        incremental = self.root / "incremental.duckdb"
        full = self.root / f"full-{self.builds}.duckdb"
        outcomes = []
        for warehouse in (incremental, full):
            try:
                build(warehouse, SQL_DIR, self.variables(), log=quiet)
                outcomes.append("ok")
            except ReportError as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1], outcomes
        if outcomes[0] != "ok":
            return []
        _, problems = compare_warehouses(full, incremental)
        full.unlink()
        return problems


def new_week(landing: Landing, rng: random.Random) -> str:
    """The weekly run: the new week, and whatever weeks before it are missing (landed ones are skipped)."""
    first, last = landing.ask_weeks(1)
    first = min(first, landing.first_gap if landing.first_gap is not None else first)
    landing.fetch(ASSETS, first, last)
    landing.first_gap = None
    return f"new week {last}" + (f" (and the missing weeks from {first})" if first < last else "")


def range_backfill(landing: Landing, rng: random.Random) -> str:
    """Several new weeks in one fetch: multi-week manifests, pages spanning two weeks."""
    first, last = landing.ask_weeks(rng.randint(2, 4))
    landing.fetch(ASSETS, first, last)
    assert max(len(windows) for windows in range_manifests(landing).values()) >= 2
    return f"backfill weeks {first}-{last}"


def range_manifests(landing: Landing) -> dict[Path, list[str]]:
    """Version-3 fetch folders → the windows their manifest marks complete."""
    found = {}
    for path in landing.settings.landing_dir.glob("liquidation_token/*/*/fetch=*/_manifest.json"):
        found[path.parent] = [entry["window"] for entry in json.loads(path.read_text())["windows"]]
    return found


def killed_range(landing: Landing, rng: random.Random) -> str:
    """A two-week backfill SIGKILLed once its chain completed the first week: that week is kept (its
    manifest lists it), the second is missing until the next weekly run fetches it."""
    asset = rng.choice(ASSETS)
    first, last = landing.ask_weeks(2, gap=True)
    before = set(range_manifests(landing))
    values = {"output_dir": str(landing.settings.output_dir), "base_url": landing.simulator.base_url,
              "api_key": DEMO_API_KEY, "assets": [asset], "max_attempts": 2, "timeout_s": 5,
              "page_size": PAGE_SIZE, "concurrency": 1}
    landing.simulator.latency_s = 0.1  # the kill lands while the chain is inside its second week
    child = subprocess.Popen([sys.executable, "-c", KILLED_FETCH, json.dumps(values),
                              week_start(first).isoformat(), week_start(last + 1).isoformat()],
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if line.startswith("windows ") and int(line.split()[1]) >= 1:
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdout.close()
        landing.simulator.latency_s = 0.0
    [killed] = set(range_manifests(landing)) - before
    kept = range_manifests(landing)[killed]
    assert len(kept) == 1, kept
    return f"killed {asset} weeks {first}-{last} after {len(kept)} week(s)"


class BuildsMidway(Progress):
    """Builds both warehouses when the chain has completed its first week: the range's manifest lists that
    week only, and is rewritten in place after the build (the fetch runs one chain, blocked meanwhile)."""

    def __init__(self, landing: Landing):
        super().__init__()
        self.landing = landing
        self.problems: list[str] | None = None
        self.windows_seen: dict[str, int] = {}  # fetch folder → its windows, as the midway build saw them

    def advance(self, windows: int = 0, rows: int = 0) -> None:
        super().advance(windows, rows)
        if windows > 0 and self.problems is None:
            self.problems = self.landing.build_both()
            self.windows_seen = dict(query(self.landing.root / "incremental.duckdb",
                                           "select fetch_path, count(*) from stg_landing_windows group by 1"))

    def seen(self, folder: Path) -> int:
        return self.windows_seen.get(folder.resolve().as_posix(), 0)


def watched_range(landing: Landing, rng: random.Random) -> str:
    """A build while a range's chain runs, then the chain goes on: the build after it must read the
    rewritten manifest again (the loop's build compares it with a full refresh)."""
    asset = rng.choice(ASSETS)
    first, last = landing.ask_weeks(2)
    before = set(range_manifests(landing))
    watcher = BuildsMidway(landing)
    landing.fetch([asset], first, last, progress=watcher, concurrency=1)
    assert watcher.problems == [], watcher.problems
    [folder] = set(range_manifests(landing)) - before
    assert (watcher.seen(folder), len(range_manifests(landing)[folder])) == (1, 2)
    landing.fetch([a for a in ASSETS if a != asset], first, last)
    return f"watched {asset} weeks {first}-{last}"


def broken_range(landing: Landing, rng: random.Random) -> str:
    """A range whose server never ends its chain: built midway (its first week in the warehouse), then the
    page bound stops it and the whole range is discarded; the next build must drop that week again."""
    asset = rng.choice(ASSETS)
    first, last = landing.ask_weeks(2, gap=True)
    landing.fetch([a for a in ASSETS if a != asset], first, last)
    before = set(range_manifests(landing))
    landing.simulator.faults = FaultPlan(chain="endless", chain_assets=(asset,))
    watcher = BuildsMidway(landing)
    try:
        with pytest.raises(FetchError, match="pages"):
            landing.fetch([asset], first, last, progress=watcher, concurrency=1)
    finally:
        landing.simulator.faults = FaultPlan()
    assert watcher.problems == [], watcher.problems
    assert set(range_manifests(landing)) == before  # discarded: no manifest left
    old = {folder.resolve() for folder in before}
    midway = [count for path, count in watcher.windows_seen.items() if Path(path).resolve() not in old]
    assert midway and min(midway) >= 1  # the midway build held the range's first week(s)
    return f"broken chain {asset} weeks {first}-{last}"


def partly_superseded_range(landing: Landing, rng: random.Random) -> str:
    """A newer fetch (revised numbers) of one week of a multi-week range: the range keeps its other weeks."""
    ranges = {folder: windows for folder, windows in range_manifests(landing).items() if len(windows) >= 2}
    if not ranges:
        return range_backfill(landing, rng) + " (no range to supersede yet)"
    folder = rng.choice(sorted(ranges))
    window = rng.choice(ranges[folder])
    asset = folder.parent.parent.name.removeprefix("asset=")
    week = (datetime.fromisoformat(window).replace(tzinfo=UTC) - FIRST_WEEK.start) // timedelta(weeks=1)
    landing.simulator.revision += 1
    landing.fetch([asset], week, week, refresh=True)
    return f"superseded {asset} week {week} of {folder.name}"


def legacy_refetch(landing: Landing, rng: random.Random) -> str:
    """An older liqreport's one-week folder (manifest_version 1, `window=` layout) of a landed week, newer
    than the range that holds it: it wins that week."""
    asset, week = rng.choice(ASSETS), rng.randrange(landing.weeks)
    landing.simulator.revision += 1
    with requests.Session() as session:
        land_from_api(session, landing.simulator.base_url, landing.settings.landing_dir, asset,
                      week_start(week), week_start(week + 1), fetch_id=new_fetch_id(), page_size=PAGE_SIZE)
    return f"version-1 folder {asset} week {week}"


def revised_refetch(landing: Landing, rng: random.Random) -> str:
    landing.simulator.revision += 1  # the vendor revised its history: every number of the window moves
    week, asset = rng.randrange(landing.weeks), rng.choice(ASSETS)
    landing.fetch([asset], week, week, refresh=True)
    return f"revised {asset} week {week}"


def superseding_refetch(landing: Landing, rng: random.Random) -> str:
    first = rng.randrange(landing.weeks)
    last = min(landing.weeks - 1, first + rng.randrange(2))
    landing.fetch(ASSETS, first, last, refresh=True)
    return f"refetched weeks {first}-{last}"


def quarantined_page(landing: Landing, rng: random.Random) -> str:
    """Every attempt at the next week's first page answers garbage: it is quarantined, no manifest lands."""
    asset = rng.choice(ASSETS)
    landing.simulator.faults = FaultPlan(script=["garbage"] * landing.settings.max_attempts)
    try:
        with pytest.raises(FetchError):
            landing.fetch([asset], landing.weeks, landing.weeks)
    finally:
        landing.simulator.faults = FaultPlan()
    assert list((landing.settings.landing_dir / "_quarantine").rglob("*.json"))
    return f"quarantined {asset} week {landing.weeks}"


def killed_build(landing: Landing, rng: random.Random) -> str:
    """New pages land, and the incremental build that would load them is killed inside its transaction."""
    new_week(landing, rng)
    child = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(landing.root / "incremental.duckdb"),
                              json.dumps(landing.variables())], stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if " of " in line and "stg_liquidation_rows" in line:  # loaded, not committed
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdout.close()
    return f"killed build after landing week {landing.weeks}"


def removed_fetch(landing: Landing, rng: random.Random) -> str:
    """A complete fetch folder removed from disk (pruned, or by hand): an older fetch of its window becomes
    current again, or the window has none left."""
    folders = sorted(path.parent for path in landing.settings.landing_dir.rglob("_manifest.json"))
    folder = rng.choice(folders)
    shutil.rmtree(folder)
    return f"removed {folder.relative_to(landing.settings.landing_dir)}"


STEPS = (new_week, revised_refetch, superseding_refetch, quarantined_page, killed_build, removed_fetch,
         range_backfill, killed_range, watched_range, broken_range, partly_superseded_range, legacy_refetch)


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_build_equals_full_refresh_after_a_random_sequence_of_fetches(tmp_path, seed):
    rng = random.Random(seed)
    with running_simulator(seed=seed, data_start=datetime(2025, 1, 1, tzinfo=UTC)) as simulator:
        landing = Landing(tmp_path, simulator)
        history = [new_week(landing, rng), new_week(landing, rng)]
        assert landing.build_both() == []
        steps = [*STEPS, rng.choice(STEPS)]  # every kind at least once, in a random order
        rng.shuffle(steps)
        for step in steps:
            history.append(step(landing, rng))
            assert landing.build_both() == [], f"after {history[-1]}: {history}"
    # every incremental model of the project was kept between builds
    models, _, _ = compile_models(SQL_DIR, landing.variables())
    incremental = sorted(name for name, model in models.items() if model.materialized == "incremental")
    kept = query(tmp_path / "incremental.duckdb", "select name from _liqreport.incremental_models order by 1")
    assert [name for (name,) in kept] == incremental and len(incremental) >= 3


def test_a_newer_fetch_replaces_its_window_and_the_superseded_rows_leave(tmp_path):
    landing = tmp_path / "landing"
    start, end = datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    old_rows = synthetic_rows("btc", start, end, seed=1, skip_share=0.0)
    land_fetch(landing, "btc", start, end, old_rows, fetch_id="20250601T000000000000Z")
    next_rows = synthetic_rows("btc", end, end + timedelta(weeks=1))
    land_fetch(landing, "btc", end, end + timedelta(weeks=1), next_rows, fetch_id="20250601T000000000000Z")
    variables = model_variables(landing, start, end)
    warehouse = tmp_path / "warehouse.duckdb"
    build(warehouse, SQL_DIR, variables, log=quiet)
    # the vendor revised the week: a newer fetch with other numbers and one hour fewer (it had no events)
    new_rows = synthetic_rows("btc", start, end, seed=2, skip_share=0.0)[1:]
    land_fetch(landing, "btc", start, end, new_rows, fetch_id="20250602T000000000000Z")
    lines: list[str] = []
    build(warehouse, SQL_DIR, variables, log=lines.append)
    assert any("stg_liquidation_rows" in line and f"({len(new_rows)} new rows)" in line for line in lines)
    fetches = query(warehouse, "select fetch_id, count(*) from stg_liquidation_rows "
                               "where \"window\" = date '2025-02-03' group by 1")
    assert fetches == [("20250602T000000000000Z", len(new_rows))]
    expected = sum(row["total_amount"] for row in new_rows)
    [(total, hours, with_data)] = query(warehouse, "select sum(total_amount), count(*), count(*) filter "
                                                   "(where has_data) from fct_liquidations_hourly "
                                                   "where hour < timestamp '2025-02-10'")
    assert total == pytest.approx(expected, rel=1e-12)
    assert (hours, with_data) == (168, 167)  # the hour the new fetch omits is a zero hour, not the old row
    # the other week was not read again, and is unchanged
    other = query(warehouse, "select count(*) from stg_liquidation_rows where \"window\" = date '2025-02-10'")
    assert other == [(len(next_rows),)]


def test_error_level_tests_check_the_rows_a_build_wrote_and_a_full_refresh_checks_every_row(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    weeks = [datetime(2025, 2, 3, tzinfo=UTC) + timedelta(weeks=n) for n in range(4)]
    variables = model_variables(landing, weeks[0], weeks[1])

    def land_week(number: int, *, bad: bool = False, day: int = 1) -> None:
        rows = synthetic_rows("btc", weeks[number], weeks[number] + timedelta(weeks=1), seed=number)
        if bad:  # long + short no longer add up to the total, in the totals of the week's first row
            rows[0] = {**rows[0], "long_trades": rows[0]["long_trades"] + 1}
        land_fetch(landing, "btc", weeks[number], weeks[number] + timedelta(weeks=1), rows,
                   fetch_id=f"2025060{day}T00000000000{number}Z")

    land_week(0)
    build(warehouse, SQL_DIR, variables, log=quiet)
    # a bad row that lands is written by the next build, which checks it and fails
    land_week(1, bad=True)
    with pytest.raises(DataQualityError, match="assert_long_plus_short_equals_total"):
        build(warehouse, SQL_DIR, variables, log=quiet)
    # committed by a build that skipped the tests, the bad row is in no passed build: the next checks it all
    build(warehouse, SQL_DIR, variables, run_tests=False, log=quiet)
    land_week(2)
    with pytest.raises(DataQualityError, match="assert_long_plus_short_equals_total"):
        build(warehouse, SQL_DIR, variables, log=quiet)
    # the landing fixed (a newer fetch of the week), a build passes; a row it did not write is not read again:
    # changed in the warehouse behind the runner's back, the incremental build does not see it, `test` does
    land_week(1, day=2)
    build(warehouse, SQL_DIR, variables, log=quiet)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("update stg_liquidations set long_trades = long_trades + 1 "
                           "where interval_start = (select min(interval_start) from stg_liquidations)")
    land_week(3)
    results = build(warehouse, SQL_DIR, variables, log=quiet)
    assert results.failed == 0
    with pytest.raises(DataQualityError, match="assert_long_plus_short_equals_total"):
        run_data_tests(warehouse, SQL_DIR, variables, log=quiet)


def test_an_exchange_new_in_a_week_is_zero_filled_over_the_assets_history_and_leaves_with_its_week(tmp_path):
    landing = tmp_path / "landing"
    first, second = datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    variables = model_variables(landing, second, second + timedelta(weeks=1))
    old = synthetic_rows("btc", first, second, exchanges=("binc", "bbit"))
    land_fetch(landing, "btc", first, second, old, fetch_id="20250601T000000000000Z")
    warehouse = tmp_path / "incremental.duckdb"
    build(warehouse, SQL_DIR, variables, log=quiet)
    new = synthetic_rows("btc", second, second + timedelta(weeks=1), exchanges=("binc", "bbit", "okex"))
    folder = land_fetch(landing, "btc", second, second + timedelta(weeks=1), new,
                        fetch_id="20250602T000000000000Z")

    def okex_hours() -> list[tuple]:
        return query(warehouse, "select count(*), sum(total_trades) from fct_liquidations_hourly_by_exchange "
                                "where exchange = 'okex' and hour < timestamp '2025-02-10'")

    for step in ("okex lands", "its week removed"):
        build(warehouse, SQL_DIR, variables, log=quiet)
        full = tmp_path / f"full-{len(step)}.duckdb"
        build(full, SQL_DIR, variables, log=quiet)
        assert compare_warehouses(full, warehouse)[1] == [], step
        if step == "okex lands":  # the week before okex: 168 zero hours for it
            assert okex_hours() == [(168, 0)]
            shutil.rmtree(folder)
    assert okex_hours() == [(0, None)]


def test_a_window_refetched_without_any_exchange_rows_leaves_no_old_exchange_rows(tmp_path):
    # the vendor revised a week to totals without a per-exchange breakdown: no row of the new fetch unnests to
    # anything, so its window's old by-exchange rows must go by their lineage, not by a key the batch wrote
    landing = tmp_path / "landing"
    start, end = datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    variables = model_variables(landing, start, end)
    land_fetch(landing, "eth", start, end, synthetic_rows("eth", start, end, seed=7),
               fetch_id="20250601T000000000000Z")
    warehouse = tmp_path / "incremental.duckdb"
    build(warehouse, SQL_DIR, variables, log=quiet)
    assert query(warehouse, "select count(*) from stg_liquidations_by_exchange")[0][0] > 0
    revised = [{**row, "exchanges": []} for row in synthetic_rows("eth", start, end, seed=7)]
    land_fetch(landing, "eth", start, end, revised, fetch_id="20250605T000000000000Z")
    build(warehouse, SQL_DIR, variables, log=quiet)
    full = tmp_path / "full.duckdb"
    build(full, SQL_DIR, variables, log=quiet)
    assert compare_warehouses(full, warehouse)[1] == []
    assert query(warehouse, "select count(*) from stg_liquidations_by_exchange") == [(0,)]
