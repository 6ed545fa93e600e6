"""People-facing number and time formats: one module for the report, the email and the site."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from report.formatting import (
    WEEK_WORDS,
    change,
    correlation,
    count,
    exchange_label,
    exchange_name,
    iso_z,
    move,
    period_dates,
    period_words,
    rank_words,
    share,
    side_share,
    usd,
    utc_day,
    utc_hour,
    verdict,
    zscore,
)
from report.render import charts


@pytest.mark.parametrize(("amount", "text"), [
    (None, "–"), (0, "$0"), (950, "$950"), (4_520, "$4.52K"), (12_345_678, "$12.3M"), (912_000_000, "$912M"),
    (999_960_000, "$1.00B"), (1_017_772_049, "$1.02B"), (1_234_000_000, "$1.23B"), (-2_500_000, "−$2.50M"),
])
def test_usd_reads_like_a_quoted_liquidation_figure_to_three_significant_figures(amount, text):
    assert usd(amount) == text


def test_changes_shares_and_counts_for_people():
    # one minus sign, U+2212, in changes as in z-scores: never a hyphen beside a minus in one sentence
    assert change(0.547) == "+55%" and change(-0.0707) == "−7.1%" and change(None) == "n/a"
    assert change(-0.002) == "−0.2%" and change(1.874) == "+187%"
    assert share(0.593) == "59%" and share(0.5928, 1) == "59.3%"
    assert share(0.003) == "<1%" and share(0) == "0%" and share(None) == "–"
    assert side_share(0.89) == ("long", "89% long") and side_share(0.47) == ("short", "53% short")
    assert count(1234) == "1,234" and count(None) == "–"
    assert zscore(4.91) == "+4.9" and zscore(-2.06) == "−2.1" and zscore(0.03) == "0.0"
    # the price columns too: the email's and the report's move beside a change in one table row
    assert move(-0.082) == "−8.2%" and move(0.153) == "+15.3%" and move(-0.0001) == "0.0%"
    assert correlation(-0.681) == "−0.68" and correlation(-0.001) == "0.00"


def test_ranks_say_which_end_is_the_top():
    assert rank_words(1, 13) == "the largest of 13 weeks"
    assert rank_words(7, 13) == "the 7th largest of 13 weeks"
    assert rank_words(2, 13) == "the 2nd largest of 13 weeks"
    assert rank_words(13, 13) == "the smallest of 13 weeks"
    assert rank_words(11, 40) == "the 11th largest of 40 weeks"


def test_times_are_utc_and_say_so():
    assert utc_hour(datetime(2025, 2, 25, 14)) == "Tue 25 Feb 14:00 UTC"
    assert utc_hour("2025-02-25T14:00:00Z", year=True) == "Tue 25 Feb 2025 14:00 UTC"
    assert utc_day(date(2025, 2, 25)) == "Tue 25 Feb 2025"
    assert utc_day("2025-02-25", year=False) == "Tue 25 Feb"
    assert iso_z(datetime(2025, 2, 25, 14)) == "2025-02-25T14:00:00Z"
    week = period_dates("2025-02-24T00:00:00Z", "2025-03-03T00:00:00Z")
    assert week == "Mon 24 Feb – Sun 2 Mar 2025 (UTC)"  # one day format: no leading zero, as in the charts
    new_year = period_dates("2024-12-30T00:00:00Z", "2025-01-06T00:00:00Z")
    assert new_year == "Mon 30 Dec 2024 – Sun 5 Jan 2025 (UTC)"
    assert utc_hour(datetime(2026, 11, 4, 11)) == "Wed 4 Nov 11:00 UTC"
    assert utc_day(date(2026, 11, 9), year=False) == "Mon 9 Nov"


def test_exchange_codes_get_display_names():
    assert exchange_name("binc") == "Binance (binc)" and exchange_name("zzzz") == "zzzz"
    assert exchange_label("hbdm") == "HTX (Huobi)" and exchange_label("zzzz") == "zzzz"
    assert exchange_label(None) == "–"


def chart_in_a_new_process(hash_seed: str) -> str:
    """One chart as another run of liqreport draws it (string hashing differs between processes)."""
    script = ("from report.render import charts\n"
              "rows = [{'exchange': code, 'total_amount': 3.0 * n, 'long_amount': 2.0 * n,\n"
              "         'short_amount': n}\n"
              "        for n, code in enumerate(['binc', 'bbit', 'zzzz', 'new1'], start=1)]\n"
              "print(charts.svg_markup(charts.exchanges_mirrored(rows, scope='this week'), 'x'))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": hash_seed})
    return result.stdout


def test_a_chart_is_the_same_bytes_in_every_run():
    """Exchanges are told apart by name, not colour; the drawing itself must not depend on the process
    (the chart cache and the report's manifest rely on it)."""
    first = chart_in_a_new_process("1")
    assert "<svg" in first and ">Binance<" in first and ">zzzz<" in first
    assert chart_in_a_new_process("2") == first


def test_a_week_is_called_a_week_and_other_ranges_by_their_length():
    assert period_words(168) is WEEK_WORDS and WEEK_WORDS.last == "last week"
    three_days = period_words(72)
    assert (three_days.this, three_days.last) == ("this period", "the previous 72 h")


def overview_of(**changes) -> dict:
    """An overview as summary.json carries it: W45-like figures, a usual total and five joint spike hours."""
    overview = {
        "total_amount": 1.66e9, "change_vs_last_week": 0.82, "previous_total_amount": 9.12e8,
        "change_vs_4w_avg": 0.67, "trailing_4w_average": 9.94e8, "long_share": 0.56,
        "leading_asset": {"asset": "eth", "share": 0.45},
        "leading_exchange": {"exchange": "binc", "share": 0.38},
        "rank": {"rank": 3, "of": 99, "since": "2025-01-13", "weeks_since": 99},
        "robust_z": {"z": 1.6, "level": "usual", "baseline_weeks": 12, "baseline_median_amount": 1.0e9},
        "joint_spike_hours": 5,
        "largest_joint_spike": {"hour": "2026-11-04T11:00:00Z", "total_amount": 1.45e8},
        "ordinary_week": False, "is_iso_week": True, "weeks_in_baseline": 12,
        "assets_requested": 5, "assets_covered": 5,
        "hours_covered": 840, "hours_expected": 840,
    }
    return {**overview, **changes}


def test_a_week_of_cascades_with_a_usual_total_is_not_called_ordinary():
    from report.formatting import verdict

    text = verdict(overview_of(), "2026-W45")
    assert "ordinary" not in text
    assert "total within its usual range (robust z +1.6" in text
    assert "5 hours saw two or more assets spike together, the largest $145M on Wed 4 Nov 11:00 UTC" in text
    assert text.endswith(".") and ". " not in text  # one sentence
    assert ", 56% long;" in text and "longs" not in text
    assert ", 70% short;" in verdict(overview_of(long_share=0.3), "2026-W45")
    one = verdict(overview_of(joint_spike_hours=1), "2026-W45")
    assert "one hour saw two or more assets spike together, $145M on Wed 4 Nov 11:00 UTC" in one


def test_only_a_week_the_overview_found_ordinary_is_called_so():
    from report.formatting import verdict

    quiet = overview_of(joint_spike_hours=0, largest_joint_spike=None, ordinary_week=True,
                        rank={"rank": 40, "of": 99, "weeks_since": 99, "since": "2025-01-13"})
    assert "robust z +1.6 vs the 12 weeks before: an ordinary week" in verdict(quiet, "2026-W45")
    top_three = overview_of(joint_spike_hours=0, largest_joint_spike=None)
    assert verdict(top_three, "2026-W45").endswith("total within its usual range (robust z +1.6 vs the 12 "
                                                   "weeks before).")
    heavy = overview_of(robust_z={"z": 4.1, "level": "far above usual"})
    assert "robust z +4.1 vs the 12 weeks before: far heavier than usual; 5 hours saw" in verdict(heavy, "W")


def test_one_minus_sign_and_one_day_format_in_a_sentence_and_on_a_chart_axis():
    text = verdict(overview_of(change_vs_last_week=-0.002, change_vs_4w_avg=-0.28,
                               robust_z={"z": -2.4, "level": "below usual"}), "2026-W48")
    assert "−0.2% on last week" in text and "−28% on the 4-week average" in text and "robust z −2.4" in text
    assert not re.search(r"-\d", text)  # no hyphen before a figure anywhere
    weeks = [{"week_start": date(2026, 9, 7) + timedelta(weeks=k), "long_share": 0.5,
              "is_fully_covered": True, "is_report_week": k == 11} for k in range(12)]
    svg, _ = charts.render("long_share_weeks", (weeks,), {}, "all_long_share_weeks", False)
    ticks = re.findall(r">(\d{1,2} [A-Z][a-z]{2})<", svg)
    assert ticks and all(not tick.startswith("0") for tick in ticks) and "9 Nov" in ticks
