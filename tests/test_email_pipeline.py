"""End to end: `pipeline.run` on the simulator renders a real report and mails it to a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime, timedelta
from pathlib import Path

import html5lib
import pytest
from test_email import smtp_server

from report import pipeline
from report.periods import iso_week
from report.settings import Settings, SmtpSettings
from report.simulator import DEMO_API_KEY, running_simulator

XHTML = "{http://www.w3.org/1999/xhtml}"
PASSWORD = "pipeline-Pa55word"


def usd(amount: float) -> str:
    """The report's figure format, written out independently of the code under test: 3 significant figures."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if amount >= scale * 0.9995:
            value = float(f"{amount / scale:.3g}")
            return f"${value:.0f}{suffix}" if value >= 100 else (
                f"${value:.1f}{suffix}" if value >= 10 else f"${value:.2f}{suffix}")
    return f"${amount:.0f}"


def percent(change: float) -> str:
    value = change * 100
    text = f"{value:+.0f}%" if abs(value) >= 9.95 else f"{value:+.1f}%"
    return text.replace("-", "\u2212")  # the report's one minus sign


@pytest.fixture(scope="module")
def mailed_report(tmp_path_factory):
    output = tmp_path_factory.mktemp("pipeline") / "output"
    lines = []
    with running_simulator(seed=7) as simulator, smtp_server() as (inbox, port):
        settings = Settings(base_url=simulator.base_url, api_key=DEMO_API_KEY, assets=("btc", "eth"),
                            output_dir=output, email_to=("risk@example.com",),
                            smtp=SmtpSettings(host="127.0.0.1", port=port, sender="reports@example.com",
                                              security="none", password=PASSWORD))
        pipeline.run(settings, iso_week("2025-W09"), send=True, log=lines.append)
    assert len(inbox.envelopes) == 1
    message = email.message_from_bytes(inbox.envelopes[0].content, policy=email.policy.default)
    report_dir = output / "reports" / "2025-W09"
    return message, report_dir, json.loads((report_dir / "summary.json").read_text()), lines


def landed_totals(landing: Path, asset: str, start: datetime, end: datetime) -> dict[str, float]:
    """The USD totals of [start, end) summed straight from the landed pages (newest complete fetch of each
    window), independently of the models: what the email's figures must equal."""
    totals = {"total_amount": 0.0, "long_amount": 0.0}
    # docs/architecture.md §2: a fetch folder holds a range of weeks; its manifest names those complete
    newest: dict[str, tuple[str, Path, dict]] = {}
    folder = landing / "liquidation_token" / f"asset={asset}" / "interval=1h"
    for path in folder.glob("fetch=*/_manifest.json"):
        manifest = json.loads(path.read_text())
        for window in manifest["windows"]:
            if window["window"] not in newest or manifest["fetch_id"] > newest[window["window"]][0]:
                newest[window["window"]] = (manifest["fetch_id"], path.parent, window)
    for _, folder, window in newest.values():
        for page in json.loads((folder / "_manifest.json").read_text())["pages"]:
            for row in json.loads((folder / page["file"]).read_text())["data"]:
                hour = datetime.fromisoformat(row["interval_time"].replace("Z", "+00:00"))
                if window["start_time"] <= row["interval_time"] < window["end_time"] and start <= hour < end:
                    for key in totals:
                        totals[key] += float(row[key])
    return totals


def landed_source(landing: Path) -> set[str]:
    return {json.loads(path.read_text())["source"] for path in landing.rglob("_manifest.json")}


def test_pipeline_email_subject_and_text_carry_the_landed_figures(mailed_report):
    message, report_dir, summary, _ = mailed_report
    landing = report_dir.parent.parent / "landing"
    week = iso_week("2025-W09")
    this = {asset: landed_totals(landing, asset, week.start, week.end) for asset in ("btc", "eth")}
    last = {asset: landed_totals(landing, asset, week.start - timedelta(weeks=1), week.start)
            for asset in ("btc", "eth")}
    assert landed_source(landing) == {"simulator"}  # data from the simulator is demo data
    # the exact numbers behind the rounded ones in the mail
    assert {entry["asset"]: pytest.approx((entry["total_amount"], entry["long_amount"]), rel=1e-9)
            for entry in summary["assets"]} == {
        asset: (totals["total_amount"], totals["long_amount"]) for asset, totals in this.items()}
    total = sum(totals["total_amount"] for totals in this.values())
    longs = sum(totals["long_amount"] for totals in this.values())
    previous = sum(totals["total_amount"] for totals in last.values())
    leader = max(this, key=lambda asset: this[asset]["total_amount"]).upper()
    assert message["Subject"].strip() == (
        f"[DEMO DATA] Liquidations 2025-W09: {usd(total)}, {percent(total / previous - 1)} w/w, "
        f"{longs / total * 100:.0f}% long, {leader} led")
    text = message.get_body(preferencelist=("plain",)).get_content()
    positions = []
    for asset in sorted(this, key=lambda code: -this[code]["total_amount"]):  # largest first, as the report
        totals = this[asset]
        change = totals["total_amount"] / last[asset]["total_amount"] - 1
        line = f"{asset.upper()}: {usd(totals['total_amount'])}, {percent(change)} vs last week"
        assert line in text
        positions.append(text.index(line))
    assert positions == sorted(positions)
    assert summary["overview"]["verdict"] in text


def test_pipeline_email_images_are_the_rendered_charts(mailed_report):
    message, report_dir, summary, _ = mailed_report
    parts = {part["Content-ID"].strip("<>"): part for part in message.walk()
             if part.get_content_type() == "image/png"}
    html = message.get_body(preferencelist=("html",)).get_content()
    images = html5lib.parse(html, namespaceHTMLElements=True).findall(f".//{XHTML}img")
    alts = {chart["png"]: chart["alt"] for chart in summary["charts"] if "png" in chart}
    shown = set()
    for image in images:
        part = parts[image.get("src").removeprefix("cid:")]
        chart_file = f"charts/{part.get_filename()}"
        assert part.get_content() == (report_dir / chart_file).read_bytes()
        assert image.get("alt") == alts[chart_file]
        shown.add(chart_file)
    assert {"charts/btc_daily.png", "charts/eth_daily.png"} <= shown
    assert len(shown) == len(images) == len(parts) < len(summary["charts"])
    assert len(html.encode()) < 100_000


def test_pipeline_writes_report_eml_and_keeps_the_password_out(mailed_report):
    message, report_dir, _, lines = mailed_report
    saved = email.message_from_bytes((report_dir / "report.eml").read_bytes(), policy=email.policy.default)
    assert saved["Message-ID"] == message["Message-ID"]
    assert PASSWORD.encode() not in (report_dir / "report.eml").read_bytes()
    assert PASSWORD not in "\n".join(lines)
    assert any(line.startswith("Sent to 1 recipient") for line in lines)
