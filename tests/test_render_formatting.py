"""People-facing number and time formats, and chart styling that must not drift."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

import pytest

from report.formatting import (
    WEEK_WORDS,
    change,
    count,
    exchange_name,
    iso_z,
    period_words,
    share,
    usd,
    utc_day,
    utc_hour,
)
from report.render.charts import STYLE


@pytest.mark.parametrize(("amount", "text"), [
    (None, "n/a"), (0, "$0"), (950, "$950"), (4_520, "$4.5K"), (12_345_678, "$12.3M"), (912_000_000, "$912M"),
    (999_960_000, "$1.0B"), (1_234_000_000, "$1.2B"), (-2_500_000, "-$2.5M"),
])
def test_usd_reads_like_a_quoted_liquidation_figure(amount, text):
    assert usd(amount) == text


def test_changes_shares_and_counts_for_people():
    assert change(0.184) == "+18.4 %" and change(-0.05) == "-5.0 %" and change(None) == "n/a"
    assert share(0.6) == "60.0 %" and share(None) == "n/a"
    assert count(1234) == "1,234" and count(None) == "n/a"


def test_times_are_utc_and_say_so():
    assert utc_hour(datetime(2025, 2, 25, 14)) == "Tue 25 Feb 2025 14:00 UTC"
    assert utc_day(date(2025, 2, 25)) == "Tue 25 Feb 2025"
    assert iso_z(datetime(2025, 2, 25, 14)) == "2025-02-25T14:00:00Z"


def colours_in_a_new_process(codes: list[str], hash_seed: str) -> list[str]:
    """exchange_color as another run of liqreport computes it (string hashing differs between processes)."""
    script = ("from report.render.charts import STYLE\n"
              f"print(' '.join(STYLE.exchange_color(code) for code in {codes!r}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": hash_seed})
    return result.stdout.split()


def test_exchange_codes_get_display_names_and_one_stable_colour():
    assert exchange_name("binc") == "Binance (binc)" and exchange_name("zzzz") == "zzzz"
    known = ["binc", "bbit", "okex", "drbt", "hbdm", "bfnx", "krkn", "cbse"]
    # the big venues keep the colours readers know from earlier reports (Okabe–Ito, colour-blind safe)
    assert [STYLE.exchange_color(code) for code in known[:3]] == ["#E69F00", "#56B4E9", "#009E73"]
    assert len({STYLE.exchange_color(code) for code in known}) == len(known)
    unknown = ["zzzz", "abcd", "new1", "x"]
    assert all(STYLE.exchange_color(code) in STYLE.fallback_colors for code in unknown)
    assert not {STYLE.exchange_color(code) for code in unknown} & {STYLE.exchange_color(c) for c in known}
    # the same colour in every run, whatever the process's string-hash seed
    codes = known + unknown
    here = [STYLE.exchange_color(code) for code in codes]
    assert colours_in_a_new_process(codes, "1") == colours_in_a_new_process(codes, "2") == here
    assert STYLE.long != STYLE.short


def test_a_week_is_called_a_week_and_other_ranges_by_their_length():
    assert period_words(168) is WEEK_WORDS and WEEK_WORDS.last == "last week"
    three_days = period_words(72)
    assert (three_days.this, three_days.last) == ("this period", "the previous 72 h")
