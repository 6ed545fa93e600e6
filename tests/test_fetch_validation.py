"""Which pages land and which go to quarantine (report/fetch/landing.py's docstring), over real HTTP:
a loopback proxy in front of the simulator spoils one row of the first page."""

from __future__ import annotations

import json

import pytest
from fetch_helpers import PAST_NOW, SECRET_KEY, newest_complete_by_window, rewriting_proxy, sim_settings, utc

from report.errors import FetchError
from report.fetch.fetcher import fetch_range
from report.simulator import running_simulator


def spoil_first_row(change):
    def rewrite(envelope):
        if envelope.get("data"):
            change(envelope["data"][0])
        return envelope
    return rewrite


def fetch_through(rewrite, tmp_path):
    with running_simulator(seed=7, api_key=SECRET_KEY) as sim:
        with rewriting_proxy(sim.base_url, rewrite) as proxy:
            settings = sim_settings(sim, tmp_path, base_url=proxy.base_url, page_size=1000)
            fetch_range(settings, utc(2025, 2, 3), utc(2025, 2, 10), now=PAST_NOW, log=lambda _: None)
    return settings


LANDED_AS_IS = {
    "numeric strings": lambda row: row.update(total_amount="123.4", long_trades="7"),
    "exchanges null": lambda row: row.update(exchanges=None),
    "unknown extra field": lambda row: row.update(funding_rate=0.0001, note={"any": "thing"}),
    "negative numbers": lambda row: row.update(short_amount=-5.0),
    "totals that disagree": lambda row: row.update(total_trades=1),
    "a measure missing": lambda row: row.pop("long_amount", None),
}


@pytest.mark.parametrize("change", LANDED_AS_IS.values(), ids=LANDED_AS_IS.keys())
def test_rows_the_sql_tests_judge_are_landed_as_is(tmp_path, change):
    settings = fetch_through(spoil_first_row(change), tmp_path)
    [folder] = newest_complete_by_window(settings.landing_dir).values()
    first_row = json.loads((folder / "page-00001.json").read_bytes())["data"][0]
    original = dict(first_row)
    change(original)  # applying the change again is a no-op only if the landed row already carries it
    assert first_row == original
    assert not (settings.landing_dir / "_quarantine").exists()


QUARANTINED = {
    "non-numeric measure": (lambda row: row.update(total_amount="lots"), "`total_amount` is not numeric"),
    "boolean measure": (lambda row: row.update(long_trades=True), "`long_trades` is not numeric"),
    "interval_time missing": (lambda row: row.pop("interval_time"), "`interval_time` is missing"),
    "interval_timestamp missing": (lambda row: row.pop("interval_timestamp"),
                                   "`interval_timestamp` is missing"),
    "exchanges not a list": (lambda row: row.update(exchanges="binc"), "`exchanges` is a str"),
    "exchange entry not an object": (lambda row: row.update(exchanges=["binc"]), "not an object"),
}


@pytest.mark.parametrize(("change", "reason"), QUARANTINED.values(), ids=QUARANTINED.keys())
def test_rows_the_models_cannot_read_send_the_page_to_quarantine(tmp_path, change, reason):
    with pytest.raises(FetchError) as raised:
        fetch_through(spoil_first_row(change), tmp_path)
    landing = tmp_path / "landing"
    [quarantined] = (landing / "_quarantine" / "btc" / "2025-02-03").glob("*-page-00001.json")
    assert str(quarantined) in str(raised.value) and reason in str(raised.value)
    assert reason in quarantined.with_suffix(".reason.txt").read_text()
    assert not newest_complete_by_window(landing)  # the window is not marked complete
