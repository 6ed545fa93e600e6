"""Fault matrix, family "landing integrity": a manifest never lies, and when the pages under it change anyway
(a page deleted, resized, added, or rows that differ from the count), the window is not used.

The build fails with the error-level assert_landing_matches_manifests naming the window; built without
tests, the window is missing coverage (its hours absent), never summed from what is left; the next fetch
lands it again, and the build after that has the simulator's numbers, computed here.
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


def delete_a_page(folder):
    (folder / "page-00002.json").unlink()


def resize_a_page(folder):
    page = folder / "page-00001.json"
    page.write_bytes(page.read_bytes() + b"\n")


def add_a_page(folder):
    (folder / "page-00009.json").write_bytes((folder / "page-00001.json").read_bytes())


def shrink_the_row_count(folder):
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["row_count"] -= 24
    (folder / "_manifest.json").write_text(json.dumps(manifest))


DAMAGE = {"page deleted": delete_a_page, "page resized": resize_a_page,
          "page not in the manifest": add_a_page, "row count differs": shrink_the_row_count}


@pytest.fixture
def landed(tmp_path):
    with running_simulator(seed=7) as sim:
        settings = Settings(api_key="k", base_url=sim.base_url, assets=("btc", "eth"), output_dir=tmp_path,
                            page_size=50)
        pipeline.fetch(settings, WEEK, log=lambda _: None)
        yield sim, settings


def silent(_line):
    pass


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_window_whose_pages_disagree_with_its_manifest_fails_the_build_and_is_not_summed(landed, damage):
    sim, settings = landed
    damage(newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW])
    with pytest.raises(DataQualityError, match=r"^data test assert_landing_matches_manifests failed: 1 rows; "
                                               r"first: \{'asset': 'btc', 'interval': '1h', 'window': "
                                               r"'2025-02-24'"):
        pipeline.build(settings, WEEK, log=silent)
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


@pytest.mark.parametrize("damage", [delete_a_page, resize_a_page, add_a_page], ids=list(DAMAGE)[:3])
def test_the_next_fetch_lands_the_window_again_and_the_build_has_the_right_numbers(landed, damage):
    sim, settings = landed
    broken = newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW]
    damage(broken)
    again = pipeline.fetch(settings, WEEK, log=silent)
    assert again.windows_fetched == 1  # only the damaged window, although all are settled
    assert newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW] != broken
    pipeline.build(settings, WEEK, log=silent)
    truth = week_truth(sim, "btc", WEEK)
    amount, trades, hours = weekly_fact(settings.output_dir, "btc", WEEK)
    assert (trades, hours) == (truth["total_trades"], WEEK.hours)
    assert amount == pytest.approx(truth["total_amount"], rel=1e-9)


def test_an_older_complete_fetch_does_not_stand_in_for_a_broken_newest_one(landed):
    sim, settings = landed
    pipeline.fetch(settings, WEEK, refresh=True, log=silent)  # every window now has two complete fetches
    delete_a_page(newest_complete_by_window(settings.landing_dir)[BROKEN_WINDOW])
    pipeline.build(settings, WEEK, run_tests=False, log=silent)
    assert weekly_fact(settings.output_dir, "btc", WEEK) is None
