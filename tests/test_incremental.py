"""Incremental builds equal a full refresh, table for table, after any sequence of fetches: new weeks,
re-fetched windows with revised numbers, superseded fetches, a quarantined page, a kill between builds, a
fetch folder removed from disk."""

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
from dbt_parity import compare_warehouses
from landing_fixtures import land_fetch, model_variables, synthetic_rows

from report.errors import FetchError, ReportError
from report.fetch.fetcher import fetch_range
from report.models.runner import build, compile_models
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
from report.settings import SQL_DIR
build(Path(sys.argv[1]), SQL_DIR, json.loads(sys.argv[2]), log=lambda line: print(line, flush=True))
"""


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
                                 api_key=DEMO_API_KEY, assets=ASSETS, max_attempts=2, timeout_s=5)
        self.weeks = 0  # weeks landed so far, from FIRST_WEEK
        self.builds = 0

    def fetch(self, assets, first: int, last: int, *, refresh: bool = False) -> None:
        fetch_range(self.settings.with_(assets=tuple(assets)), week_start(first), week_start(last + 1),
                    refresh=refresh, log=quiet)

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
    landing.fetch(ASSETS, landing.weeks, landing.weeks)
    landing.weeks += 1
    return f"new week {landing.weeks}"


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


STEPS = (new_week, revised_refetch, superseding_refetch, quarantined_page, killed_build, removed_fetch)


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_build_equals_full_refresh_after_a_random_sequence_of_fetches(tmp_path, seed):
    rng = random.Random(seed)
    with running_simulator(seed=seed, data_start=datetime(2025, 1, 1, tzinfo=UTC)) as simulator:
        landing = Landing(tmp_path, simulator)
        history = [new_week(landing, rng), new_week(landing, rng)]
        assert landing.build_both() == []
        steps = [*STEPS, rng.choice(STEPS), rng.choice(STEPS)]  # every kind at least once, in a random order
        rng.shuffle(steps)
        for step in steps:
            history.append(step(landing, rng))
            assert landing.build_both() == [], history
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
