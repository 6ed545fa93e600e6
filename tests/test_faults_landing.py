"""Fault matrix, family "landing integrity": a manifest never lies, and when the pages under it change anyway
(a page deleted or resized, counts that no longer add up), the windows whose rows it held are not used.

The build fails with the error-level assert_landing_matches_manifests naming the window; built without
tests, the window is missing coverage (its hours absent), never summed from what is left; the next fetch
lands it again, and the build after that has the simulator's numbers, computed here. A file the manifest
does not list (a page landed after the manifest's last rewrite, by a run killed then) is never read.
"""

from __future__ import annotations

import json

import duckdb
import pytest
from fault_helpers import week_truth, weekly_fact
from fetch_helpers import newest_complete_by_window

from report import pipeline
from report.errors import DataQualityError
from report.periods import iso_week
from report.settings import Settings
from report.simulator import running_simulator

WEEK = iso_week("2025-W09")
BROKEN_WINDOW = ("btc", "2025-02-24")  # the report week's own window


def window_pages(folder, window):
    """The pages holding a window's rows, as the fetch's manifest lists them."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    [entry] = [e for e in manifest["windows"] if e["window"] == window]
    return entry["pages"]


def delete_a_page(folder):
    (folder / window_pages(folder, BROKEN_WINDOW[1])[-1]).unlink()


def resize_a_page(folder):
    page = folder / window_pages(folder, BROKEN_WINDOW[1])[0]
    page.write_bytes(page.read_bytes() + b"\n")


def shrink_the_row_count(folder):
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["row_count"] -= 24
    (folder / "_manifest.json").write_text(json.dumps(manifest))


DAMAGE = {"page deleted": delete_a_page, "page resized": resize_a_page,
          "row count differs": shrink_the_row_count}


@pytest.fixture
def landed(tmp_path):
    with running_simulator(seed=7) as sim:
        settings = Settings(api_key="k", base_url=sim.base_url, assets=("btc", "eth"), output_dir=tmp_path,
                            page_size=50)
        pipeline.fetch(settings, WEEK, log=lambda _: None)
        yield sim, settings


def silent(_line):
    pass


def fetch_windows(folder) -> set[str]:
    return {entry["window"] for entry in json.loads((folder / "_manifest.json").read_text())["windows"]}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_window_whose_pages_disagree_with_its_manifest_fails_the_build_and_is_not_summed(landed, damage):
    sim, settings = landed
    folder = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    damage(folder)
    with pytest.raises(DataQualityError, match="^data test assert_landing_matches_manifests failed: "):
        pipeline.build(settings, WEEK, log=silent)
    results = json.loads((settings.output_dir / "run_results.json").read_text())
    [test] = [t for t in results["tests"] if t["name"] == "assert_landing_matches_manifests"]
    failing = {row["window"] for row in test["first_rows"]}
    assert BROKEN_WINDOW[1] in failing and failing <= fetch_windows(folder)  # that fetch's windows only
    assert not settings.warehouse_path.exists()  # nothing published

    # Built without the tests, btc's week is missing, not the sum of what is left; eth's is whole.
    pipeline.build(settings, WEEK, run_tests=False, log=silent)
    assert weekly_fact(settings.output_dir, "btc", WEEK) is None
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        [(covered,)] = connection.execute(
            "select hours_covered from rpt_data_quality where asset = 'btc'").fetchall()
    assert covered == 0
    eth = week_truth(sim, "eth", WEEK)
    assert weekly_fact(settings.output_dir, "eth", WEEK)[1:] == (eth["total_trades"], WEEK.hours)


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_the_next_fetch_lands_the_window_again_and_the_build_has_the_right_numbers(landed, damage):
    sim, settings = landed
    broken = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    damage(broken)
    again = pipeline.fetch(settings, WEEK, log=silent)
    # only windows of the damaged fetch, although all are settled
    assert 1 <= again.windows_fetched <= len(fetch_windows(broken))
    assert newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW] != broken
    pipeline.build(settings, WEEK, log=silent)
    truth = week_truth(sim, "btc", WEEK)
    amount, trades, hours = weekly_fact(settings.output_dir, "btc", WEEK)
    assert (trades, hours) == (truth["total_trades"], WEEK.hours)
    assert amount == pytest.approx(truth["total_amount"], rel=1e-9)


def test_a_file_the_manifest_does_not_list_is_never_read_and_the_next_fetch_removes_it(landed):
    sim, settings = landed
    folder = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    stray = folder / "page-00099.json"
    stray.write_bytes((folder / window_pages(folder, BROKEN_WINDOW[1])[0]).read_bytes())  # duplicate rows
    pipeline.build(settings, WEEK, log=silent)  # no test fails
    truth = week_truth(sim, "btc", WEEK)
    amount, trades, hours = weekly_fact(settings.output_dir, "btc", WEEK)
    assert (trades, hours) == (truth["total_trades"], WEEK.hours)
    assert amount == pytest.approx(truth["total_amount"], rel=1e-9)
    assert pipeline.fetch(settings, WEEK, log=silent).windows_fetched == 0
    assert not stray.exists()


def test_an_older_complete_fetch_does_not_stand_in_for_a_broken_newest_one(landed):
    sim, settings = landed
    pipeline.fetch(settings, WEEK, refresh=True, log=silent)  # every window now has two complete fetches
    delete_a_page(newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW])
    pipeline.build(settings, WEEK, run_tests=False, log=silent)
    assert weekly_fact(settings.output_dir, "btc", WEEK) is None


def cut_off_page(folder, start_time: str) -> None:
    """What a kill while writing a page leaves: pages are written under their final name (architecture §2)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page-00099.json").write_bytes(b'{"query": {"start_time": "' + start_time.encode()
                                             + b'"}, "data": [{"interval_t')


def test_a_page_cut_off_by_a_kill_is_never_read_by_a_build_or_a_full_refresh(landed):
    sim, settings = landed
    pipeline.build(settings, WEEK, log=silent)
    liquidations = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    [prices] = [path.parent for path in settings.landing_dir.glob("trades_ohlcv/asset=btc/*/*/_manifest.json")
                if path.is_file()]
    later = "fetch=20991231T000000000000Z"
    for folder in (liquidations, prices):
        cut_off_page(folder, "2025-02-24T00:00:00Z")  # landed after the manifest's last rewrite
        cut_off_page(folder.with_name(later), "2025-03-03T00:00:00Z")  # a fetch without a manifest yet
    truth = week_truth(sim, "btc", WEEK)
    for full_refresh in (False, True):
        pipeline.build(settings, WEEK, full_refresh=full_refresh, log=silent)
        amount, trades, hours = weekly_fact(settings.output_dir, "btc", WEEK)
        assert (trades, hours) == (truth["total_trades"], WEEK.hours)
        assert amount == pytest.approx(truth["total_amount"], rel=1e-9)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
            price_hours = connection.execute("select count(*) from stg_prices where asset = 'btc' and "
                                             "interval_start >= ? and interval_start < ?",
                                             [WEEK.start.replace(tzinfo=None), WEEK.end.replace(tzinfo=None)])
            assert price_hours.fetchone()[0] == WEEK.hours


@pytest.mark.parametrize("damage", [delete_a_page, resize_a_page], ids=["page deleted", "page resized"])
def test_pages_damaged_after_a_build_fail_the_next_build_as_a_full_refresh_does(landed, damage):
    # the incremental build checks the pages of fetches it has read, not only of new ones: it finds what a
    # full refresh finds, and once the page is as listed again, the window is summed again
    sim, settings = landed
    pipeline.build(settings, WEEK, log=silent)
    folder = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    pages = {name: (folder / name).read_bytes() for name in window_pages(folder, BROKEN_WINDOW[1])}
    damage(folder)
    for full_refresh in (False, True):
        with pytest.raises(DataQualityError, match="^data test assert_landing_matches_manifests failed: "):
            pipeline.build(settings, WEEK, full_refresh=full_refresh, log=silent)
    pipeline.build(settings, WEEK, run_tests=False, log=silent)
    assert weekly_fact(settings.output_dir, "btc", WEEK) is None  # not summed from what is left
    for name, content in pages.items():  # the pages as listed again
        (folder / name).write_bytes(content)
    pipeline.build(settings, WEEK, log=silent)
    truth = week_truth(sim, "btc", WEEK)
    amount, trades, hours = weekly_fact(settings.output_dir, "btc", WEEK)
    assert (trades, hours) == (truth["total_trades"], WEEK.hours)
    assert amount == pytest.approx(truth["total_amount"], rel=1e-9)
