"""The benchmark's pandas baseline computes the same numbers as liqreport, so timing them against each other
is fair: 2 assets × 2 weeks on the simulator, compared frame by frame with the exports `build` writes.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from report import pipeline
from report.fetch.fetcher import fetch_range
from report.periods import iso_week
from report.settings import Settings
from report.simulator import running_simulator

# bench-only: `pip install -e '.[dev]'` brings no pandas; this file is then skipped, not a collection error
pd = pytest.importorskip("pandas", reason="the bench baseline needs pandas: pip install -e '.[bench]'")
from bench.baseline import baseline_build, baseline_fetch, compare_frames, compare_with_exports  # noqa: E402

ASSETS = ("btc", "sol")
PERIOD = iso_week("2025-W10")
START = PERIOD.start - timedelta(weeks=1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Land 2 assets × 2 weeks with liqreport, build models and exports, keep the simulator's truth."""
    output_dir = tmp_path_factory.mktemp("bench") / "output"
    with running_simulator(seed=7) as simulator:
        settings = Settings(base_url=simulator.base_url, api_key="bench", output_dir=output_dir,
                            assets=ASSETS)
        fetch_range(settings, START, PERIOD.end, log=lambda _: None)
        pipeline.build(settings, PERIOD, log=lambda _: None)
        fetched_rows = baseline_fetch(simulator.base_url, "bench", ASSETS, START, PERIOD.end, page_size=100)
        hours = [START + timedelta(hours=h) for h in range(int((PERIOD.end - START).total_seconds() // 3600))]
        truth = {(asset, hour): simulator.hourly_truth(asset, hour) for asset in ASSETS for hour in hours}
    return settings, fetched_rows, truth


def test_bench_baseline_over_landed_pages_matches_the_exports(built):
    settings, _, _ = built
    frames = baseline_build(settings.landing_dir)

    assert compare_with_exports(frames, settings.output_dir / "data") == []
    assert set(frames["weekly"]["asset"]) == set(ASSETS)
    assert len(frames["weekly"]) == len(ASSETS) * 2


def test_bench_baseline_fetched_over_http_with_pagination_matches_the_exports(built):
    settings, fetched_rows, _ = built

    assert len(fetched_rows) > 100 * len(ASSETS)  # several pages per asset were followed
    assert compare_with_exports(baseline_build(fetched_rows), settings.output_dir / "data") == []


def test_bench_baseline_weekly_totals_equal_the_simulators_hourly_truth(built):
    settings, _, truth = built
    weekly = baseline_build(settings.landing_dir)["weekly"]

    for asset in ASSETS:
        for week_start in (START, PERIOD.start):
            rows = [row for (a, hour), row in truth.items()
                    if a == asset and row and week_start <= hour < week_start + timedelta(weeks=1)]
            got = weekly[(weekly["asset"] == asset)
                         & (weekly["week_start"] == pd.Timestamp(week_start.replace(tzinfo=None)))]
            assert int(got["total_trades"].iloc[0]) == sum(row["total_trades"] for row in rows)
            expected_long = sum(float(row["long_amount"]) for row in rows)
            assert math.isclose(float(got["long_amount"].iloc[0]), expected_long, rel_tol=1e-9)


def test_bench_comparison_reports_a_changed_number_and_a_missing_row(built):
    settings, _, _ = built
    frames = baseline_build(settings.landing_dir)
    exported = pd.read_parquet(settings.output_dir / "data" / "daily_by_exchange.parquet")

    changed = frames["daily_by_exchange"].copy()
    changed.loc[changed.index[3], "short_amount"] += 1.0  # far above float-summation noise
    problems = compare_frames("daily_by_exchange", changed, exported)
    assert len(problems) == 1 and "short_amount: 1 of" in problems[0]

    daily = pd.read_parquet(settings.output_dir / "data" / "daily.parquet")
    extra = pd.concat([frames["daily"], frames["daily"].tail(1).assign(asset="zzz")], ignore_index=True)
    problems = compare_frames("daily", extra, daily)
    assert problems == [f"daily: 1 row(s) only in the baseline, e.g. ['zzz', {extra['day'].iloc[-1]!r}]"]
