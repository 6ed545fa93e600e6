"""The published static site: output/site/index.html + a copy of every rendered period."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from urllib.parse import unquote

import html5lib
import pytest
from test_email import asset_entry, write_report_folder

from report import cli
from report.deliver.site import publish
from report.errors import DeliveryError

XHTML = "{http://www.w3.org/1999/xhtml}"


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's sha256 and modification time: publishing again must change neither."""
    return {path.relative_to(folder).as_posix():
            (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def index_rows(index: Path):
    document = html5lib.parse(index.read_text(), namespaceHTMLElements=True)
    return document, [row for row in document.iter(f"{XHTML}tr") if row.get("class") == "report"]


@pytest.fixture()
def reports_dir(tmp_path):
    reports = tmp_path / "output" / "reports"
    write_report_folder(reports, "2025-W08", start="2025-02-17T00:00:00Z", end="2025-02-24T00:00:00Z")
    write_report_folder(reports, "2025-W09", start="2025-02-24T00:00:00Z", end="2025-03-03T00:00:00Z",
                        demo=False)
    write_report_folder(reports, "2025-W07", start="2025-02-10T00:00:00Z", end="2025-02-17T00:00:00Z",
                        pdf=False)
    write_report_folder(reports, "2025-02-03_2025-02-05", start="2025-02-03T00:00:00Z",
                        end="2025-02-05T00:00:00Z", assets=(asset_entry("sol", 3_500_000.0, 0.4, None),))
    (reports / "2025-W10").mkdir()  # a render that never finished: no summary.json
    return reports


def test_site_index_lists_every_report_on_disk_newest_first(tmp_path, reports_dir):
    index = publish(reports_dir, tmp_path / "site")
    assert index == tmp_path / "site" / "index.html"
    _, rows = index_rows(index)
    on_disk = [folder.name for folder in reports_dir.iterdir() if (folder / "summary.json").exists()]
    assert sorted(row.get("data-label") for row in rows) == sorted(on_disk)
    newest_first = ["2025-W09", "2025-W08", "2025-W07", "2025-02-03_2025-02-05"]
    assert [row.get("data-label") for row in rows] == newest_first


def test_site_index_shows_period_assets_and_headline_total(tmp_path, reports_dir):
    _, rows = index_rows(publish(reports_dir, tmp_path / "site"))
    texts = {row.get("data-label"): " ".join("".join(row.itertext()).split()) for row in rows}
    # W09 holds btc $1,234M + eth $640.4M = $1,874.4M in all: "$1.87B", written out by hand
    # the period as the report says it, one day format for the report, the email and the site
    assert "Mon 24 Feb – Sun 2 Mar 2025 (UTC)" in texts["2025-W09"] and "BTC, ETH" in texts["2025-W09"]
    assert "$1.87B" in texts["2025-W09"]
    assert "2 assets: the verdict sentence of the report." in texts["2025-W09"]
    assert "SOL" in texts["2025-02-03_2025-02-05"] and "$3.50M" in texts["2025-02-03_2025-02-05"]
    assert "Mon 3 Feb – Tue 4 Feb 2025 (UTC)" in texts["2025-02-03_2025-02-05"]


def test_site_marks_demo_reports(tmp_path, reports_dir):
    _, rows = index_rows(publish(reports_dir, tmp_path / "site"))
    demo = {row.get("data-label") for row in rows if "DEMO DATA" in "".join(row.itertext())}
    assert demo == {"2025-W08", "2025-W07", "2025-02-03_2025-02-05"}


def test_site_copies_each_period_without_the_email(tmp_path, reports_dir):
    (reports_dir / "2025-W09" / "report.eml").write_bytes(b"To: risk@example.com\n\nprivate")
    site = tmp_path / "site"
    publish(reports_dir, site)
    copied = {path.relative_to(site / "2025-W09").as_posix() for path in (site / "2025-W09").rglob("*")
              if path.is_file()}
    source = {path.relative_to(reports_dir / "2025-W09").as_posix()
              for path in (reports_dir / "2025-W09").rglob("*") if path.is_file()} - {"report.eml"}
    assert copied == source
    assert {"report.html", "report.pdf", "summary.json", "manifest.json", "data/daily.csv"} <= copied
    assert any(name.startswith("charts/") and name.endswith(".png") for name in copied)
    for name in copied:
        assert (site / "2025-W09" / name).read_bytes() == (reports_dir / "2025-W09" / name).read_bytes()
    assert not (site / "2025-W09" / "report.eml").exists()


def test_site_every_link_in_the_index_exists(tmp_path, reports_dir):
    site = tmp_path / "site"
    document, _ = index_rows(publish(reports_dir, site))
    links = [anchor.get("href") for anchor in document.iter(f"{XHTML}a")]
    assert len(links) >= 4 * 3
    for link in links:
        assert (site / unquote(link)).is_file(), link
    assert "2025-W07/report.pdf" not in links and "2025-W09/report.pdf" in links


def test_site_publishing_twice_changes_nothing(tmp_path, reports_dir):
    site = tmp_path / "site"
    publish(reports_dir, site)
    first = snapshot(site)
    publish(reports_dir, site)
    assert snapshot(site) == first


def test_site_older_periods_stay_when_their_report_folder_is_gone(tmp_path, reports_dir):
    site = tmp_path / "site"
    publish(reports_dir, site)
    shutil.rmtree(reports_dir / "2025-W07")
    write_report_folder(reports_dir, "2025-W11", start="2025-03-10T00:00:00Z", end="2025-03-17T00:00:00Z")
    _, rows = index_rows(publish(reports_dir, site))
    labels = [row.get("data-label") for row in rows]
    assert labels == ["2025-W11", "2025-W09", "2025-W08", "2025-W07", "2025-02-03_2025-02-05"]
    assert (site / "2025-W07" / "report.html").is_file()


def test_site_rerendered_period_replaces_its_stale_files(tmp_path, reports_dir):
    site = tmp_path / "site"
    publish(reports_dir, site)
    (reports_dir / "2025-W09" / "report.pdf").unlink()
    (reports_dir / "2025-W09" / "report.html").write_text("<!DOCTYPE html><title>re-rendered</title>")
    publish(reports_dir, site)
    assert not (site / "2025-W09" / "report.pdf").exists()
    assert (site / "2025-W09" / "report.html").read_text() == "<!DOCTYPE html><title>re-rendered</title>"


def test_site_escapes_html_in_asset_codes(tmp_path):
    reports = tmp_path / "reports"
    write_report_folder(reports, assets=(asset_entry("<script>alert(1)</script>", 1e6, 0.5, 0.0),))
    index = publish(reports, tmp_path / "site")
    document, rows = index_rows(index)
    assert list(document.iter(f"{XHTML}script")) == []
    assert "<SCRIPT>ALERT(1)</SCRIPT>" in "".join(rows[0].itertext())


def test_site_without_reports_says_to_run_first(tmp_path):
    with pytest.raises(DeliveryError, match="liqreport run"):
        publish(tmp_path / "reports", tmp_path / "site")


def test_site_publish_command_writes_the_index(tmp_path, reports_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)
    assert cli.main(["publish", "--output-dir", "output"]) == 0
    assert (tmp_path / "output" / "site" / "index.html").is_file()
    assert "site" in capsys.readouterr().err.lower()
