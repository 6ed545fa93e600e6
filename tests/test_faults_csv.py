"""Fault matrix, family "CSV injection": exchange codes come from the API, so a server can send one that a
spreadsheet would run (`=cmd|' /C calc'!A0`, `+…`, `-…` that is no number, `@HYPERLINK…`, a leading tab or
carriage return). Through a real `run` and `publish` against the built-in simulator serving such codes,
every CSV the product writes and publishes (output/data, the report folder's data/, the site) carries them
neutralised by a leading apostrophe (OWASP), a code that is a number stays as it is, Parquet and the
landing zone keep the raw value, and the HTML shows them as text (a control character as its escape, `\\t`,
never as nothing or a missing glyph in a chart).
"""

from __future__ import annotations

import csv
import json

import html5lib
import pyarrow.parquet as pq
import pytest

from report.cli import main
from report.simulator import running_simulator

WEEK = "2025-W09"
# the simulator's btc exchanges of early 2025, each served under a hostile code
HOSTILE = {
    "binc": "=cmd|' /C calc'!A0",
    "bbit": "+SUM(1,2)",
    "okex": "-2+3",
    "bfnx": '@HYPERLINK("http://x.example","x")',
    "drbt": "\tTAB",
    "cbse": "\rCR",
    "krkn": "-12.5",  # a number: a spreadsheet shows it as one, nothing to neutralise
}
FORMULAS = {code for code in HOSTILE.values() if code != "-12.5"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XHTML = "{http://www.w3.org/1999/xhtml}"


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """output/ after `liqreport run` and `liqreport publish` against a simulator serving hostile codes."""
    root = tmp_path_factory.mktemp("csv-injection")
    output = root / "output"
    with pytest.MonkeyPatch.context() as patch, running_simulator(seed=7, exchange_codes=HOSTILE) as sim:
        patch.chdir(root)
        patch.setenv("KAIKO_BASE_URL", sim.base_url)
        patch.setenv("KAIKO_API_KEY", "any-key-works-here")
        assert main(["run", "--week", WEEK, "--assets", "btc", "--output-dir", str(output), "--quiet"]) == 0
        assert main(["publish", "--output-dir", str(output)]) == 0
    return output


def csv_files(output) -> dict[str, list]:
    """Where the product put CSVs → the files there."""
    places = {"output/data": output / "data", "report folder": output / "reports" / WEEK / "data",
              "site": output / "site" / WEEK / "data"}
    return {place: sorted(folder.glob("*.csv")) for place, folder in places.items()}


def read_rows(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_published_csv_neutralises_formula_codes(published):
    files = csv_files(published)
    assert all(files.values()), files  # each place has its CSVs
    assert sorted(p.relative_to(published) for p in published.rglob("*.csv")) == \
        sorted(p.relative_to(published) for paths in files.values() for p in paths)  # and there are no others
    expected = {"'" + code for code in FORMULAS} | {"-12.5"}  # OWASP's apostrophe, worked out by hand
    for place, paths in files.items():
        by_exchange = [path for path in paths if "by_exchange" in path.name]
        assert len(by_exchange) == 3, place
        for path in by_exchange:
            codes = {row["exchange"] for row in read_rows(path)}
            assert codes == expected, (place, path.name)


def test_no_published_csv_cell_starts_a_formula(published):
    for paths in csv_files(published).values():
        for path in paths:
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.reader(handle):
                    for value in row:
                        assert not value.startswith(FORMULA_START) or is_number(value), (path, value)


def test_parquet_and_the_landing_zone_keep_the_raw_codes(published):
    parquet = sorted(published.rglob("*by_exchange.parquet"))
    assert len(parquet) == 3 * 3  # hourly, daily, weekly in output/data, the report folder and the site
    for path in parquet:
        assert set(pq.read_table(path).column("exchange").to_pylist()) == set(HOSTILE.values()), path
    landed = set()
    for page in (published / "landing").rglob("page-*.json"):
        for row in json.loads(page.read_bytes())["data"]:
            landed.update(entry["exchange"] for entry in row["exchanges"] or [])
    assert landed == set(HOSTILE.values())


def test_the_report_html_shows_the_codes_as_text(published):
    for folder in (published / "reports" / WEEK, published / "site" / WEEK):
        html_path = folder / "report.html"
        html = html_path.read_text(encoding="utf-8")
        tree = html5lib.HTMLParser(strict=True).parse(html)
        body = next(tree.iter(f"{XHTML}body"))
        text = " ".join("".join(body.itertext()).split())
        shown = {code for code in HOSTILE.values() if " ".join(code.split()) in text}
        # the leading exchanges are named on the page, verbatim (no apostrophe: HTML runs no formula)
        leading = {HOSTILE[code] for code in ("binc", "bbit", "okex", "bfnx")}
        assert leading <= shown, (html_path, shown)
        assert "'" + HOSTILE["binc"] not in text
        assert "\\tTAB" in html  # a control character is shown as its escape, in the text and the charts
        assert not [node for node in tree.iter() if str(node.tag).endswith("}a")
                    and "x.example" in (node.get("href") or "")]  # no link made of a code
