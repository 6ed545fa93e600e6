"""The first screen's figures (summary.json's overview, the verdict) against an independent computation in
plain Python over the hourly exports the analyst gets (data/hourly*.parquet) — never over the marts."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from conftest import DEMO_WEEK

from report.periods import iso_week

WEEK = iso_week(DEMO_WEEK)
START, END = WEEK.start, WEEK.end
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture(scope="module")
def exported(demo_week):
    hourly = pq.read_table(demo_week.folder / "data" / "hourly.parquet").to_pylist()
    by_exchange = pq.read_table(demo_week.folder / "data" / "hourly_by_exchange.parquet").to_pylist()
    return demo_week.summary["overview"], hourly, by_exchange


def monday(moment: datetime) -> datetime:
    day = moment.replace(hour=0)
    return day - timedelta(days=day.weekday())


def market_weeks(hourly: list[dict]) -> dict[datetime, dict]:
    """Per ISO week: USD, long USD, and whether every asset had all 168 hours."""
    assets = {row["asset"] for row in hourly}
    weeks: dict = defaultdict(lambda: {"usd": 0.0, "long": 0.0, "hours": defaultdict(int)})
    for row in hourly:
        if row["covered"]:
            week = weeks[monday(row["hour"])]
            week["usd"] += row["total_amount"]
            week["long"] += row["long_amount"]
            week["hours"][row["asset"]] += 1
    for week in weeks.values():
        week["full"] = all(week["hours"][asset] == 168 for asset in assets)
    return dict(weeks)


def test_overview_totals_and_changes_match_the_hourly_export(exported):
    overview, hourly, _ = exported
    weeks = market_weeks(hourly)
    this = weeks[START]
    assert overview["total_amount"] == pytest.approx(this["usd"], rel=1e-9)
    assert overview["long_share"] == pytest.approx(this["long"] / this["usd"], rel=1e-9)
    previous = weeks[START - 7 * DAY]
    assert previous["full"]
    assert overview["change_vs_last_week"] == pytest.approx(this["usd"] / previous["usd"] - 1, rel=1e-9)
    base = [weeks[START - k * 7 * DAY]["usd"] for k in range(1, 5) if weeks[START - k * 7 * DAY]["full"]]
    assert overview["change_vs_4w_avg"] == pytest.approx(this["usd"] / statistics.mean(base) - 1, rel=1e-9)


def test_overview_leading_asset_and_exchange_match_the_exports(exported):
    overview, hourly, by_exchange = exported
    per_asset, per_exchange = defaultdict(float), defaultdict(float)
    for row in hourly:
        if START <= row["hour"] < END and row["covered"]:
            per_asset[row["asset"]] += row["total_amount"]
    for row in by_exchange:
        if START <= row["hour"] < END and row["covered"]:
            per_exchange[row["exchange"]] += row["total_amount"]
    total = sum(per_asset.values())
    asset = max(per_asset, key=per_asset.get)
    exchange = max(per_exchange, key=per_exchange.get)
    assert overview["leading_asset"] == {"asset": asset, "share": pytest.approx(per_asset[asset] / total)}
    assert overview["leading_exchange"] == {"exchange": exchange,
                                            "share": pytest.approx(per_exchange[exchange] / total)}
    sides = defaultdict(lambda: [0.0, 0.0])
    for row in by_exchange:
        if START <= row["hour"] < END and row["covered"]:
            sides[row["exchange"]][0] += row["long_amount"]
            sides[row["exchange"]][1] += row["short_amount"]
    shown = {row["exchange"]: (row["long_amount"], row["short_amount"]) for row in overview["by_exchange"]}
    assert set(shown) == {code for code, usd in per_exchange.items() if usd > 0}
    for code, (long_usd, short_usd) in shown.items():
        assert (long_usd, short_usd) == (pytest.approx(sides[code][0]), pytest.approx(sides[code][1]))


def weekly_export(demo_week) -> dict[datetime, dict]:
    """Per ISO week from data/weekly.parquet (every week on file): USD and whether every asset had 168 h."""
    rows = pq.read_table(demo_week.folder / "data" / "weekly.parquet").to_pylist()
    assets = {row["asset"] for row in rows}
    weeks: dict = defaultdict(lambda: {"usd": 0.0, "hours": {}})
    for row in rows:
        week = weeks[datetime(row["week_start"].year, row["week_start"].month, row["week_start"].day,
                              tzinfo=UTC)]
        week["usd"] += row["total_amount"]
        week["hours"][row["asset"]] = row["hours_covered"]
    return {week: {"usd": values["usd"], "full": all(values["hours"].get(asset) == 168 for asset in assets)}
            for week, values in weeks.items()}


def test_overview_rank_and_robust_z_match_the_exports(exported, demo_week):
    overview = exported[0]
    first_whole_week = datetime(2025, 1, 13, tzinfo=UTC)  # the history starts on Wed 2025-01-08
    full = {week: values["usd"] for week, values in weekly_export(demo_week).items()
            if values["full"] and first_whole_week <= week <= START}
    this = full[START]
    assert overview["rank"] == {"rank": 1 + sum(usd > this for usd in full.values()), "of": len(full),
                                "since": "2025-01-13",
                                "weeks_since": (START - first_whole_week).days // 7 + 1}
    baseline = [math.log1p(full[START - k * 7 * DAY]) for k in range(1, 13) if START - k * 7 * DAY in full]
    center = statistics.median(baseline)
    mad = statistics.median(abs(value - center) for value in baseline)
    assert overview["robust_z"]["baseline_weeks"] == len(baseline) == 12
    assert overview["robust_z"]["z"] == pytest.approx((math.log1p(this) - center) / (1.4826 * mad), rel=1e-9)


def test_a_run_ranks_the_week_among_every_whole_week_since_the_history_starts(exported, demo_week):
    # the run lands the history from its start (Wed 2025-01-08), not just the 12 weeks the charts show, so
    # the rank depends on the week only, never on what an output folder happened to hold
    first_whole_week = datetime(2025, 1, 13, tzinfo=UTC)
    rank = exported[0]["rank"]
    assert rank["of"] == rank["weeks_since"] == (START - first_whole_week).days // 7 + 1
    landed = weekly_export(demo_week)
    assert min(landed) == first_whole_week - 7 * DAY  # the history's first, partial week is on file too
    assert all(landed[first_whole_week + k * 7 * DAY]["full"] for k in range(rank["of"]))


def test_overview_joint_spike_hours_match_a_robust_z_computed_from_the_exports(exported):
    overview, hourly, _ = exported
    series: dict = defaultdict(dict)
    for row in hourly:
        if row["covered"]:
            series[row["asset"]][row["hour"]] = math.log1p(row["total_amount"])
    spiking: dict = defaultdict(list)
    for asset, hours in series.items():
        for hour in (START + k * HOUR for k in range(168)):
            baseline = [value for moment, value in hours.items() if hour - 28 * DAY <= moment < hour]
            if hour not in hours or len(baseline) < 28 * 24:  # the full 28 days, as the method states
                continue
            center = statistics.median(baseline)
            mad = statistics.median(abs(value - center) for value in baseline)
            if mad > 0 and (hours[hour] - center) / (1.4826 * mad) >= 3.5:
                spiking[hour].append(asset)
    joint = {hour: sorted(assets) for hour, assets in spiking.items() if len(assets) >= 2}
    assert joint, "the demo week has hours in which several assets spiked together"
    shown = {datetime.fromisoformat(row["hour"].replace("Z", "+00:00")): sorted(row["assets"])
             for row in overview["spike_hours"]}
    assert shown == joint
    for row in overview["spike_hours"]:
        hour = datetime.fromisoformat(row["hour"].replace("Z", "+00:00"))
        usd = sum(r["total_amount"] for r in hourly if r["hour"] == hour and r["covered"])
        assert row["total_amount"] == pytest.approx(usd)


def test_long_share_per_week_over_the_12_weeks_matches_the_exports(exported):
    overview, hourly, _ = exported
    weeks = market_weeks(hourly)
    shown = [(row["week_start"], row["long_share"]) for row in overview["weeks"]]
    expected_weeks = [(START - k * 7 * DAY) for k in range(11, -1, -1)]
    assert [week for week, _ in shown] == [week.date().isoformat() for week in expected_weeks]
    for (_, long_share), week in zip(shown, expected_weeks, strict=True):
        assert long_share == pytest.approx(weeks[week]["long"] / weeks[week]["usd"])


def test_the_verdict_says_the_figures_in_words(exported, demo_week):
    overview, _, _ = exported
    verdict = overview["verdict"]
    assert verdict.startswith("$") and f" was liquidated in {DEMO_WEEK}, " in verdict
    rank = overview["rank"]
    place = {1: "the largest", rank["of"]: "the smallest"}.get(rank["rank"], "largest")
    since = "since 13 Jan 2025" if rank["of"] == rank["weeks_since"] else (
        f"(of {rank['weeks_since']} since 13 Jan 2025)")
    assert f"{place} of {rank['of']} fully covered weeks {since}" in verdict
    z = overview["robust_z"]["z"]
    assert f"robust z {z:+.1f}".replace("-", "−") + " vs the 12 weeks before" in verdict
    if overview["spike_hours"]:  # the demo week's cascades: never "ordinary", whatever the total's z
        assert "ordinary" not in verdict
        assert f"{len(overview['spike_hours'])} hours saw two or more assets spike together" in verdict
    long_share = overview["long_share"]  # the larger side, named as the tables name it
    side = (f"{round(long_share * 100)}% long" if long_share >= 0.5
            else f"{round((1 - long_share) * 100)}% short")
    assert f", {side};" in verdict and "longs" not in verdict
    generated = datetime.fromisoformat(demo_week.summary["generated_at"].replace("Z", "+00:00"))
    assert generated <= datetime.now(UTC)
