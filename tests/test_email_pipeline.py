"""End to end: `pipeline.run` on the simulator renders a real report and mails it to a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import json

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
    return f"{value:+.0f}%" if abs(value) >= 9.95 else f"{value:+.1f}%"


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


def test_pipeline_email_subject_and_text_carry_summary_figures(mailed_report):
    message, _, summary, _ = mailed_report
    overview = summary["overview"]
    leader = max(summary["assets"], key=lambda entry: entry["total_amount"])["asset"].upper()
    prefix = "[DEMO DATA] " if summary["demo"] else ""
    assert message["Subject"].strip() == (
        f"{prefix}Liquidations 2025-W09: {usd(overview['total_amount'])}, "
        f"{percent(overview['change_vs_last_week'])} w/w, {overview['long_share'] * 100:.0f}% long, "
        f"{leader} led")
    text = message.get_body(preferencelist=("plain",)).get_content()
    positions = []
    for entry in summary["assets"]:
        line = (f"{entry['asset'].upper()}: {usd(entry['total_amount'])}, "
                f"{percent(entry['change_vs_last_week'])} vs last week")
        assert line in text
        positions.append(text.index(line))
    assert positions == sorted(positions)  # largest first, as in the report
    assert overview["verdict"] in text


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
