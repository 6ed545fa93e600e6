"""The emailed report: built from a rendered report folder, delivered to a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import functools
import io
import json
import re
import socket
from contextlib import contextmanager
from pathlib import Path

import html5lib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from matplotlib.figure import Figure

from report import cli
from report.deliver.email import deliver
from report.errors import ConfigError, DeliveryError
from report.settings import TEMPLATES_DIR, Settings, SmtpSettings

LABEL = "2025-W09"
PASSWORD = "s3cret-Pa55word"
XHTML = "{http://www.w3.org/1999/xhtml}"


# ---------------------------------------------------------------- a rendered report folder, per §4

@functools.cache
def chart_png(title: str = "Liquidations per day") -> bytes:
    """A real 2x PNG with a solid background, like the renderer's (one drawing, reused: rendering is slow)."""
    figure = Figure(figsize=(6, 3), dpi=100, facecolor="white")
    axes = figure.add_subplot()
    axes.bar(range(7), [3, 5, 2, 8, 4, 6, 1], color="#c0392b")
    axes.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=200, facecolor="white")
    return buffer.getvalue()


def asset_entry(asset: str, total: float, long_share: float, change: float | None,
                exchange: str = "binc") -> dict:
    return {"asset": asset, "rank": 1, "total_amount": total, "total_trades": int(total / 25_000),
            "long_amount": total * long_share, "short_amount": total * (1 - long_share),
            "long_share": long_share, "share_of_all_assets": None, "average_size": 25_000.0,
            "change_vs_last_week": change, "change_vs_4w_avg": -0.05,
            "biggest_day": {"day": "2025-02-25", "total_amount": total * 0.4},
            "biggest_hour": {"hour": "2025-02-25T14:00:00Z", "total_amount": total * 0.1, "long_share": 0.7},
            "dominant_exchange": exchange, "dominant_exchange_share": 0.4, "spike_hours": 0,
            "hours_covered": 168, "hours_in_period": 168}


DEFAULT_ASSETS = (
    asset_entry("btc", 1_234_000_000.0, 0.62, 0.184),
    asset_entry("eth", 640_400_000.0, 0.55, -0.071, exchange="bbit"),
)


def overview_of(assets, previous: float = 1_500_000_000.0) -> dict:
    """summary.json's overview for these assets, as the renderer writes it (docs/architecture.md §4)."""
    total = sum(entry["total_amount"] for entry in assets)
    longs = sum(entry["long_amount"] for entry in assets)
    leader = max(assets, key=lambda entry: entry["total_amount"]) if assets else None
    return {
        "total_amount": total, "total_trades": sum(entry["total_trades"] for entry in assets),
        "long_amount": longs, "short_amount": total - longs, "long_share": longs / total if total else None,
        "average_size": 25_000.0, "previous_total_amount": previous,
        "change_vs_last_week": total / previous - 1, "trailing_4w_average": previous, "periods_in_average": 4,
        "change_vs_4w_avg": total / previous - 1, "long_share_median_11w": 0.5,
        "leading_asset": {"asset": leader["asset"], "share": leader["total_amount"] / total}
        if leader else None,
        "leading_exchange": {"exchange": "binc", "share": 0.4}, "biggest_hour": None, "biggest_day": None,
        "rank": {"rank": 3, "of": 40, "since": "2025-01-13"},
        "robust_z": {"z": 1.2, "level": "usual", "baseline_weeks": 12, "baseline_median_amount": previous},
        "assets_requested": len(assets), "assets_covered": len(assets), "hours_covered": 168 * len(assets),
        "hours_expected": 168 * len(assets), "by_exchange": [],
        "spike_hours": [{"hour": "2025-02-25T14:00:00Z", "assets": [entry["asset"] for entry in assets][:2],
                         "total_amount": total * 0.05, "long_amount": total * 0.04,
                         "short_amount": total * 0.01, "long_share": 0.8, "dominant_side": "long",
                         "max_robust_z": 5.0}],
        "weeks": [], "verdict": f"{len(assets)} assets: the verdict sentence of the report.",
    }


def write_report_folder(reports_dir: Path, label: str = LABEL, assets=DEFAULT_ASSETS, *, demo: bool = True,
                        start: str = "2025-02-24T00:00:00Z", end: str = "2025-03-03T00:00:00Z",
                        pdf: bool = True) -> Path:
    folder = reports_dir / label
    (folder / "charts").mkdir(parents=True)
    (folder / "data").mkdir()
    charts = [{"file": "charts/all_market_exchanges.svg", "png": "charts/all_market_exchanges.png",
               "asset": None, "kind": "market_exchanges", "title": "All assets by exchange",
               "alt": "Horizontal bar chart of liquidations per exchange",
               "takeaway": "Binance carried 40%."}]
    for entry in assets:
        code = entry["asset"]
        safe = re.sub(r"[^a-z0-9]", "_", code.lower())
        for kind in ("daily", "hourly", "exchanges"):
            chart = {"file": f"charts/{safe}_{kind}.svg", "asset": code, "kind": kind,
                     "title": f"{code} {kind}", "alt": f"Chart of {kind} liquidations of {code}",
                     "takeaway": f"{code} {kind} note"}
            if kind == "daily":
                chart["png"] = f"charts/{safe}_{kind}.png"
            charts.append(chart)
    for chart in charts:
        (folder / chart["file"]).write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>')
        if "png" in chart:
            (folder / chart["png"]).write_bytes(chart_png())
    overview = overview_of(assets)
    summary = {
        "period": {"label": label, "start": start, "end": end},
        "generated_at": "2025-03-03T07:00:00Z", "data_as_of": "2025-03-03T06:00:00Z", "demo": demo,
        "source": "https://us.market-api.kaiko.io/v2/data/liquidation.v1/token/{asset}",
        "totals": {key: overview[key]
                   for key in ("total_amount", "total_trades", "long_amount", "short_amount")},
        "overview": overview, "assets": list(assets), "charts": charts,
        "data_tests": {"passed": 12, "warned": 1, "failed": 0},
        "files": {"html": "report.html", "pdf": "report.pdf" if pdf else None, "data": ["data/daily.csv"]},
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    (folder / "report.html").write_text(f"<!DOCTYPE html><title>Liquidations {label}</title><h1>{label}</h1>")
    (folder / "data" / "daily.csv").write_text("asset,day,total_amount\nbtc,2025-02-24,1.0\n")
    if pdf:
        (folder / "report.pdf").write_bytes(b"%PDF-1.4\n% liqreport test\n%%EOF\n")
    (folder / "manifest.json").write_text(json.dumps({"files": sorted(p.name for p in folder.iterdir())}))
    return folder


# ---------------------------------------------------------------- a real SMTP server on loopback

class Inbox:
    """aiosmtpd handler keeping what it receives; refuses recipients at nobody@."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(authenticator=None):
    inbox = Inbox()
    options = {"authenticator": authenticator, "auth_require_tls": False} if authenticator else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def refuse_every_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False)


def settings_for(tmp_path: Path, port: int, to=("risk@example.com",), **smtp) -> Settings:
    values = {"host": "127.0.0.1", "port": port, "sender": "reports@example.com", "security": "none"} | smtp
    return Settings(output_dir=tmp_path / "output", email_to=tuple(to), smtp=SmtpSettings(**values))


def received_message(inbox: Inbox) -> email.message.EmailMessage:
    assert len(inbox.envelopes) == 1
    return email.message_from_bytes(inbox.envelopes[0].content, policy=email.policy.default)


def parse_html(markup: str):
    return html5lib.parse(markup, namespaceHTMLElements=True)


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture()
def report_dir(tmp_path):
    return write_report_folder(tmp_path / "output" / "reports")


@pytest.fixture()
def report_dir_without_pdf(tmp_path):
    return write_report_folder(tmp_path / "output" / "reports", pdf=False)


@pytest.fixture()
def delivered(tmp_path, report_dir_without_pdf):
    """The message as the SMTP server received it, plus the log lines (no site, no PDF to attach)."""
    lines = []
    with smtp_server() as (inbox, port):
        deliver(settings_for(tmp_path, port), report_dir_without_pdf, send=True, log=lines.append)
    return received_message(inbox), lines


# ---------------------------------------------------------------- tests

def test_email_is_alternative_text_and_related_html_with_png_parts(delivered):
    message, _ = delivered
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.get_payload()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "multipart/related"
    related = html_part.get_payload()
    assert related[0].get_content_type() == "text/html"
    images = related[1:]
    assert images and all(part.get_content_type() == "image/png" for part in images)
    # overview + one daily chart per asset, not every chart of the report
    names = sorted(part.get_filename() for part in images)
    assert names == ["all_market_exchanges.png", "btc_daily.png", "eth_daily.png"]


def test_email_every_cid_resolves_to_an_attached_image_with_alt_text(delivered):
    message, _ = delivered
    content_ids = {part["Content-ID"].strip("<>") for part in message.walk()
                   if part.get_content_type() == "image/png"}
    images = parse_html(html_of(message)).findall(f".//{XHTML}img")
    assert len(images) == 3
    for image in images:
        source = image.get("src")
        assert source.startswith("cid:") and source[4:] in content_ids
        assert image.get("alt", "").strip()
    assert "data:" not in html_of(message)
    assert {image.get("src")[4:] for image in images} == content_ids


def test_email_alt_text_comes_from_summary_charts(delivered, report_dir_without_pdf):
    message, _ = delivered
    summary = json.loads((report_dir_without_pdf / "summary.json").read_text())
    alts = {image.get("alt") for image in parse_html(html_of(message)).findall(f".//{XHTML}img")}
    expected = {chart["alt"] for chart in summary["charts"] if "png" in chart}
    assert alts == expected


def test_email_alt_text_does_not_repeat_the_visible_caption(delivered):
    """With images blocked a reader sees the alt text and the caption: each must say something else."""
    message, _ = delivered
    document = parse_html(html_of(message))
    for cell in document.iter(f"{XHTML}td"):
        images = cell.findall(f"{XHTML}img")
        if len(images) != 1:
            continue
        alt = images[0].get("alt")
        caption = " ".join("".join(cell.itertext()).split())
        assert alt and alt not in caption and caption not in alt


def test_email_headline_figures_equal_summary_json(delivered, report_dir_without_pdf):
    # the fixture's summary: btc 1,234,000,000 USD (+18.4 %, 62 % long), eth 640,400,000 (-7.1 %, 55 % long),
    # 1,874,400,000 in all; the figures below are those numbers written out by hand (3 significant figures)
    message, _ = delivered
    summary = json.loads((report_dir_without_pdf / "summary.json").read_text())
    rows = [" ".join("".join(cell.itertext()).split())
            for cell in parse_html(html_of(message)).findall(f".//{XHTML}tr[@class='asset-row']")]
    assert rows[0] == "BTC $1.23B +18% −5.0% 62% long"
    assert rows[1] == "ETH $640M −7.1% −5.0% 55% long"
    assert "$1.87B" in html_of(message)  # the total, in the KPI row
    assert summary["overview"]["verdict"] in html_of(message)
    text = text_of(message)
    assert "BTC: $1.23B, +18% vs last week, −5.0% vs the 4-week average, 62% long" in text
    assert "ETH: $640M, −7.1% vs last week, −5.0% vs the 4-week average, 55% long" in text
    assert "Binance led with 40%" in text and "Bybit led with 40%" in text  # names, as in the report


def test_email_styles_are_inline_not_only_in_a_style_block(delivered):
    message, _ = delivered
    document = parse_html(html_of(message))
    template = (TEMPLATES_DIR / "email.html").read_text()
    stylesheet = template.split("<style>")[1].split("</style>")[0]
    styled_classes = set(re.findall(r"\.([a-z][a-z0-9-]*)\s*[{,]", stylesheet))
    styled = [element for element in document.iter()
              if styled_classes & set(element.get("class", "").split())]
    assert len(styled) > 20, "the template styles elements through classes"
    missing = [element.get("class") for element in styled if not element.get("style")]
    assert missing == []
    for block in document.iter(f"{XHTML}style"):
        # only @media rules may stay behind: they cannot be inlined and are an enhancement
        leftover = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", block.text or "")
        assert leftover.strip() == ""


def test_email_html_is_table_based_and_at_most_640px(delivered):
    message, _ = delivered
    document = parse_html(html_of(message))
    container = [table for table in document.iter(f"{XHTML}table") if table.get("width", "").isdigit()]
    assert container and all(int(table.get("width")) <= 640 for table in container)
    assert "display: flex" not in html_of(message) and "display: grid" not in html_of(message)
    for image in document.iter(f"{XHTML}img"):
        assert int(image.get("width")) <= 600


def test_email_plain_text_part_is_readable(delivered):
    message, _ = delivered
    text = text_of(message)
    assert not re.search(r"<[a-zA-Z/][^>]*>", text)
    assert "DEMO DATA" in text
    assert "Liquidations 2025-W09" in text
    assert "report.html in the 2025-W09 report folder" in text
    assert max(len(line) for line in text.splitlines()) < 400


def test_email_subject_names_week_and_assets_with_demo_first(delivered):
    message, _ = delivered
    # $1.8744B in all, +25% on $1.5B, 59.6% long, BTC the larger: worked out by hand from write_report_folder
    subject = message["Subject"]
    assert subject == "[DEMO DATA] Liquidations 2025-W09: $1.87B, +25% w/w, 60% long, BTC led"
    assert "DEMO DATA" in html_of(message)


def test_email_subject_is_not_folded_away_from_its_header_name(delivered, report_dir_without_pdf):
    # an 80-character subject: the stdlib's 78-column folding put it whole on a continuation line,
    # 'Subject:\n [DEMO DATA] …', and Python's parser (any archive ingest) then read it with a leading space
    received, _ = delivered
    assert received["Subject"] == "[DEMO DATA] Liquidations 2025-W09: $1.87B, +25% w/w, 60% long, BTC led"
    raw = (report_dir_without_pdf / "report.eml").read_bytes()
    headers = raw.split(b"\n\n", 1)[0].splitlines()
    assert b"Subject: [DEMO DATA] Liquidations 2025-W09: $1.87B, +25% w/w, 60% long, BTC led" in headers
    assert all(len(line) <= 998 for line in raw.splitlines())  # RFC 5322's hard limit still holds
    encodings = set(re.findall(rb"Content-Transfer-Encoding: (\S+)", raw))
    assert encodings <= {b"7bit", b"quoted-printable", b"base64"}  # bodies stay 7-bit safe (no 8BITMIME)
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert parsed["Subject"] == received["Subject"]


def test_email_without_demo_has_no_demo_notice(tmp_path):
    report = write_report_folder(tmp_path / "reports", demo=False)
    settings = settings_for(tmp_path, 1)
    path = deliver(settings, report, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"].startswith("Liquidations 2025-W09:")
    assert "DEMO DATA" not in html_of(message) and "DEMO DATA" not in text_of(message)


def test_email_is_always_written_to_report_eml(tmp_path, report_dir):
    path = deliver(settings_for(tmp_path, 1), report_dir, log=lambda line: None)
    assert path == report_dir / "report.eml"
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "risk@example.com"
    assert message["From"] == "reports@example.com"
    assert [p.name for p in report_dir.iterdir() if p.name.startswith(".")] == []


def test_email_escapes_html_in_asset_and_exchange_codes(tmp_path):
    hostile = asset_entry("<img src=x onerror=alert(1)>", 5_000_000.0, 0.5, 0.1, exchange="<b>bold</b>")
    report = write_report_folder(tmp_path / "reports", assets=(hostile,))
    path = deliver(settings_for(tmp_path, 1), report, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    markup = html_of(message)
    assert "&lt;IMG SRC=X ONERROR=ALERT(1)&gt;" in markup and "&lt;b&gt;bold&lt;/b&gt;" in markup
    assert "<IMG SRC=X ONERROR=ALERT(1)> led" in message["Subject"]  # a header is text, not markup
    document = parse_html(markup)
    images = document.findall(f".//{XHTML}img")
    assert len(images) == 2  # the overview + the daily chart: no image smuggled in by the asset code
    assert all(image.get("src").startswith("cid:") and image.get("onerror") is None for image in images)
    assert document.findall(f".//{XHTML}b") == []
    table = " ".join("".join(document.find(f".//{XHTML}table[@class='assets']").itertext()).split())
    assert "<IMG SRC=X ONERROR=ALERT(1)> $5.00M" in table and "<b>bold</b> led with 40%" in table


def test_email_html_stays_under_gmail_clip_with_many_assets(tmp_path):
    assets = tuple(asset_entry(f"asset{n}", 1e6 * (n + 1), 0.5, 0.01 * n) for n in range(12))
    report = write_report_folder(tmp_path / "reports", assets=assets)
    path = deliver(settings_for(tmp_path, 1), report, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert len(html_of(message).encode()) < 100_000
    assert message["Subject"] == "[DEMO DATA] Liquidations 2025-W09: $78.0M, −95% w/w, 50% long, ASSET11 led"


def test_email_never_links_a_local_file_and_warns_once_without_a_site(tmp_path, report_dir_without_pdf):
    lines = []
    path = deliver(settings_for(tmp_path, 1), report_dir_without_pdf, log=lines.append)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert "file:" not in html_of(message) and "file:" not in text_of(message)
    assert not parse_html(html_of(message)).findall(f".//{XHTML}a")
    assert "report.html in the 2025-W09 report folder" in html_of(message)
    warnings = [line for line in lines if line.startswith("Warning: ")]
    assert len(warnings) == 1 and "site_url" in warnings[0]
    assert "set site_url in liqreport.toml (or pass --site-url), or render with --pdf" in warnings[0].lower()


def test_email_without_a_site_attaches_the_pdf_by_default_and_says_so(tmp_path, report_dir):
    """`liqreport email` with no site_url and no --attach-pdf: the PDF is the report the reader can open."""
    lines = []
    path = deliver(settings_for(tmp_path, 1), report_dir, log=lines.append)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    (attachment,) = [part for part in message.iter_attachments()
                     if part.get_content_type() == "application/pdf"]
    assert attachment.get_content() == (report_dir / "report.pdf").read_bytes()
    said = "The full report is attached as a PDF (liquidations-2025-W09.pdf); it is not published on a site."
    assert said in text_of(message) and said in html_of(message)
    (warning,) = [line for line in lines if line.startswith("Warning: ")]
    assert "site_url is not set" in warning and "report.pdf is attached instead" in warning
    assert "--site-url" in warning  # the flag the scheduled job uses, not only the config key


def test_email_with_a_site_attaches_the_pdf_only_when_asked(tmp_path, report_dir):
    settings = settings_for(tmp_path, 1).with_(site_url="https://reports.example.com/liq")
    message = email.message_from_bytes(deliver(settings, report_dir, log=lambda line: None).read_bytes(),
                                       policy=email.policy.default)
    assert not list(message.iter_attachments())


def test_email_links_the_published_report_when_there_is_a_site(tmp_path, report_dir):
    lines = []
    settings = settings_for(tmp_path, 1).with_(site_url="https://reports.example.com/liq")
    path = deliver(settings, report_dir, log=lines.append)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    (link,) = parse_html(html_of(message)).findall(f".//{XHTML}a")
    assert link.get("href") == "https://reports.example.com/liq/2025-W09/report.html"
    assert "Full report: https://reports.example.com/liq/2025-W09/report.html" in text_of(message)
    assert not [line for line in lines if line.startswith("Warning: ")]


def test_email_without_a_site_says_the_pdf_is_attached(tmp_path, report_dir):
    path = deliver(settings_for(tmp_path, 1), report_dir, attach_pdf=True, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert "The full report is attached as a PDF (liquidations-2025-W09.pdf)" in text_of(message)


def test_email_attaches_the_pdf_when_asked(tmp_path, report_dir):
    path = deliver(settings_for(tmp_path, 1), report_dir, attach_pdf=True, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/mixed"
    attachments = [part for part in message.iter_attachments()
                   if part.get_content_type() == "application/pdf"]
    assert len(attachments) == 1
    assert attachments[0].get_content() == (report_dir / "report.pdf").read_bytes()


def test_email_without_a_pdf_to_attach_says_so_and_sends_the_rest(tmp_path):
    report = write_report_folder(tmp_path / "reports", pdf=False)
    lines = []
    path = deliver(settings_for(tmp_path, 1), report, attach_pdf=True, log=lines.append)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert any("render with --pdf" in line for line in lines)


def test_email_cli_send_without_recipients_is_a_usage_error(tmp_path, monkeypatch, capsys):
    write_report_folder(tmp_path / "output" / "reports")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)
    assert cli.main(["email", "--week", LABEL, "--output-dir", "output", "--send"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Error: no email recipients: pass --to risk@example.com or set email_to in liqreport.toml.")


def test_email_cli_send_without_a_sender_is_a_usage_error(tmp_path, monkeypatch, capsys):
    write_report_folder(tmp_path / "output" / "reports")
    monkeypatch.chdir(tmp_path)
    for name in ("KAIKO_API_KEY", "SMTP_FROM", "SMTP_USER"):
        monkeypatch.delenv(name, raising=False)
    argv = ["email", "--week", LABEL, "--output-dir", "output", "--send", "--to", "risk@example.com"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "Error: no sender address: set SMTP_FROM, e.g. SMTP_FROM=reports@example.com.")


def test_email_without_recipients_still_writes_the_eml_without_a_to_header(tmp_path, report_dir_without_pdf):
    path = deliver(settings_for(tmp_path, 1, to=()), report_dir_without_pdf, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] is None
    assert message["Subject"]
    assert message.get_content_type() == "multipart/alternative"


def test_sending_without_recipients_says_how_to_fix(tmp_path, report_dir):
    with pytest.raises(ConfigError, match="--to .*email_to in liqreport.toml"):
        deliver(settings_for(tmp_path, 1, to=()), report_dir, send=True, log=lambda line: None)


def test_email_for_a_period_not_rendered_says_to_render(tmp_path):
    with pytest.raises(DeliveryError, match="liqreport render"):
        deliver(settings_for(tmp_path, 1), tmp_path / "reports" / "2025-W01", log=lambda line: None)


def test_email_refuses_a_chart_outside_the_report_folder(tmp_path, report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    (tmp_path / "secret.png").write_bytes(chart_png("outside"))
    summary["charts"][0]["png"] = "../../../secret.png"
    (report_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DeliveryError, match="not a file in the report folder"):
        deliver(settings_for(tmp_path, 1), report_dir, log=lambda line: None)


def test_email_refused_recipient_is_a_delivery_error(tmp_path, report_dir):
    with smtp_server() as (inbox, port):
        settings = settings_for(tmp_path, port, to=("nobody@example.com",))
        with pytest.raises(DeliveryError, match="refused every recipient.*nobody@example.com.*550"):
            deliver(settings, report_dir, send=True, log=lambda line: None)
    assert inbox.envelopes == []


def test_email_partly_refused_recipients_fail_after_sending_to_the_others(tmp_path, report_dir):
    with smtp_server() as (inbox, port):
        settings = settings_for(tmp_path, port, to=("risk@example.com", "nobody@example.com"))
        with pytest.raises(DeliveryError, match="refused nobody@example.com"):
            deliver(settings, report_dir, send=True, log=lambda line: None)
    assert inbox.envelopes[0].rcpt_tos == ["risk@example.com"]


def test_email_failed_login_is_a_delivery_error_without_the_password(tmp_path, report_dir):
    lines = []
    with smtp_server(authenticator=refuse_every_login) as (inbox, port):
        settings = settings_for(tmp_path, port, user="reports", password=PASSWORD)
        with pytest.raises(DeliveryError, match="login to .* as reports failed") as failure:
            deliver(settings, report_dir, send=True, log=lines.append)
    assert inbox.envelopes == []
    assert PASSWORD not in str(failure.value)
    assert PASSWORD not in "\n".join(lines)
    assert PASSWORD.encode() not in (report_dir / "report.eml").read_bytes()


def test_email_login_succeeds_and_password_is_nowhere_in_the_message(tmp_path, report_dir):
    logins = []

    def accept(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    lines = []
    with smtp_server(authenticator=accept) as (inbox, port):
        deliver(settings_for(tmp_path, port, user="reports", password=PASSWORD), report_dir, send=True,
                log=lines.append)
    assert logins == [(b"reports", PASSWORD.encode())]
    assert PASSWORD.encode() not in inbox.envelopes[0].content
    assert PASSWORD not in "\n".join(lines)
    assert any(line.startswith("Sent to 1 recipient") for line in lines)


def test_email_connection_refused_is_a_delivery_error(tmp_path, report_dir):
    with pytest.raises(DeliveryError, match="could not send through 127.0.0.1"):
        deliver(settings_for(tmp_path, free_port()), report_dir, send=True, log=lambda line: None)


def smtp_environment(monkeypatch, port: int, user: str) -> None:
    environment = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "reports@example.com",
                   "SMTP_SECURITY": "none", "SMTP_USER": user, "SMTP_PASSWORD": PASSWORD}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)


def test_email_cli_exits_non_zero_on_a_refused_recipient(tmp_path, monkeypatch, capsys):
    write_report_folder(tmp_path / "output" / "reports")
    monkeypatch.chdir(tmp_path)
    with smtp_server() as (inbox, port):
        smtp_environment(monkeypatch, port, user="")
        code = cli.main(["email", "--week", LABEL, "--output-dir", "output", "--to", "nobody@example.com",
                         "--send"])
    error = capsys.readouterr().err
    assert code == 1
    errors = [line for line in error.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "nobody@example.com" in errors[0] and error.strip().endswith(errors[0])
    assert PASSWORD not in error


def test_email_cli_exits_non_zero_on_a_failed_login(tmp_path, monkeypatch, capsys):
    write_report_folder(tmp_path / "output" / "reports")
    monkeypatch.chdir(tmp_path)
    with smtp_server(authenticator=refuse_every_login) as (inbox, port):
        smtp_environment(monkeypatch, port, user="reports")
        code = cli.main(["email", "--week", LABEL, "--output-dir", "output", "--to", "risk@example.com",
                         "--send"])
    error = capsys.readouterr().err
    assert code == 1
    assert "login" in error and PASSWORD not in error


def test_email_prints_each_side_in_its_own_colour_inline(delivered):
    from report.palette import PALETTE

    message, _ = delivered
    marked = [node for node in parse_html(html_of(message)).iter() if node.get("class") in ("long", "short")]
    assert len(marked) == 3  # two assets and one spike hour
    for node in marked:
        side = node.get("class")
        color = PALETTE.long if side == "long" else PALETTE.short_ink
        assert f"color: {color}" in node.get("style", "") and "".join(node.itertext()).endswith(side)


def test_email_shows_the_largest_spike_hours_and_counts_the_rest(tmp_path):
    report = write_report_folder(tmp_path / "reports")
    summary = json.loads((report / "summary.json").read_text())
    [spike] = summary["overview"]["spike_hours"]
    hours = [f"2025-02-2{day}T0{hour}:00:00Z" for day, hour in ((5, 4), (6, 5), (7, 6), (8, 7), (8, 9))]
    summary["overview"]["spike_hours"] = [{**spike, "hour": hour} for hour in hours]
    (report / "summary.json").write_text(json.dumps(summary))
    path = deliver(settings_for(tmp_path, 1), report, log=lambda line: None)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    page = " ".join(parse_html(html_of(message)).itertext())
    for part in (page, text_of(message)):
        shown = [hour for hour in ("Tue 25 Feb 04:00", "Wed 26 Feb 05:00", "Thu 27 Feb 06:00",
                                   "Fri 28 Feb 07:00", "Fri 28 Feb 09:00") if hour in part]
        assert shown == ["Tue 25 Feb 04:00", "Wed 26 Feb 05:00", "Thu 27 Feb 06:00"]
        assert "2 more hours in the full report." in " ".join(part.split())
