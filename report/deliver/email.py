"""The weekly report as an email: a readable plain-text part and an HTML part with the charts as cid: images.

Built from the rendered report folder only (summary.json + the charts' PNGs, optionally report.pdf). Always
written to `report.eml` beside the report; sent over SMTP only when asked, and once: each send is recorded
in the report folder's `.sent.json` (Message-ID, recipients, time), and a rerun skips the recipients it
lists unless --resend. (A re-render keeps the marker: render/folder.py carries it into the new folder.)
"""

from __future__ import annotations

import json
import smtplib
import ssl
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import css_inline

from report.deliver.report_folder import artifact_path, load_summary
from report.errors import ConfigError, DeliveryError
from report.files import write_atomically
from report.formatting import (
    asset_label,
    change,
    period_dates,
    price_move,
    price_status_short,
    side_share,
    subject_figures,
    usd,
    utc_time,
)
from report.palette import PALETTE
from report.settings import Settings, SmtpSettings, validate_email
from report.templating import environment

HEADER_POLICY = policy.default.clone(max_line_length=998)
Log = Callable[[str], None]

EMAIL_FILE = "report.eml"
SENT_MARKER = ".sent.json"  # a dot file: the site never publishes it (it names the recipients)
# Gmail clips an HTML body above about 102 KB; cid: images do not count towards it.
HTML_BUDGET_BYTES = 100_000
# The container is 600 px with 24 px padding each side.
EMAIL_CONTENT_WIDTH_PX = 552
SPIKE_LINES = 3
SMTP_TIMEOUT_S = 30
SECURITY_MODES = ("starttls", "ssl", "none")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_can_send(settings: Settings) -> None:
    """What sending needs, all of it settings: recipients, a sender, an SMTP host. `run --send` asks before
    any fetch, so a missing one costs a line, not a whole run."""
    if not settings.email_to:
        raise ConfigError("no email recipients: pass --to risk@example.com "
                          "or set email_to in liqreport.toml.")
    sender_address(settings.smtp, required=True)
    if not settings.smtp.host:
        raise ConfigError("SMTP_HOST is not set: set SMTP_HOST (and SMTP_PORT, SMTP_FROM, SMTP_USER, "
                          "SMTP_PASSWORD) to send, or drop --send to only write report.eml.")


def deliver(settings: Settings, report_dir: Path, *, send: bool = False, resend: bool = False,
            attach_pdf: bool = False, log: Log = print) -> Path:
    """Build the email for one rendered period, write report_dir/report.eml, and send it when asked.

    Recipients this period's email already went to (report_dir/.sent.json) are skipped unless `resend`.
    """
    # report.eml is always written (another system may send it); only sending needs recipients
    if send:
        check_can_send(settings)
    for address in settings.email_to:
        validate_email(address)
    summary = load_summary(report_dir)
    recipients = settings.email_to
    if send and not resend:
        already = sent_to(report_dir)
        recipients = tuple(address for address in settings.email_to if address not in already)
        if not recipients:
            last = max(already.values(), key=lambda entry: entry["sent_at"])
            log(f"Email for {report_dir.name} already sent to {', '.join(settings.email_to)} "
                f"(last {last['sent_at']}, Message-ID {last['message_id']}): not sent again; "
                "pass --resend to send it anyway.")
            return report_dir / EMAIL_FILE
    link = full_report_link(settings, report_dir)
    pdf = None
    # without a site the PDF is the only way a reader gets the report itself: attached whenever it exists
    pdf_name = (summary.get("files") or {}).get("pdf") or "report.pdf"
    if attach_pdf or link is None:
        if (report_dir / pdf_name).is_file():
            pdf = artifact_path(report_dir, pdf_name).read_bytes()
        elif attach_pdf:
            log(f"No {pdf_name} to attach: render with --pdf to include it.")
    if link is None:
        set_it = "Set site_url in liqreport.toml (or pass --site-url)"
        log("Warning: site_url is not set, so the email cannot link to the full report; "
            + (f"{pdf_name} is attached instead. {set_it} to link the published report."
               if pdf is not None else
               f"it says where the report folder is. {set_it}, or render with --pdf "
               "(`liqreport render --pdf`, `liqreport run --pdf`) so that the email attaches the PDF."))
    message = build_message(summary, report_dir, sender=sender_address(settings.smtp, required=send),
                            recipients=recipients, report_link=link, pdf=pdf)
    path = report_dir / EMAIL_FILE
    write_atomically(path, bytes(message))
    html_bytes = len(html_body(message).encode("utf-8"))
    log(f"Email: {path} ({html_bytes / 1000:.0f} KB HTML, {len(image_parts(message))} charts)")
    if html_bytes > HTML_BUDGET_BYTES:
        log(f"Warning: the email's HTML is {html_bytes / 1000:.0f} KB; Gmail clips above about 102 KB.")
    if send:
        if len(recipients) < len(settings.email_to):
            log(f"Already sent to {len(settings.email_to) - len(recipients)} of the recipients; "
                f"sending to {', '.join(recipients)}.")
        send_message(message, settings.smtp, log=log,
                     on_accepted=lambda accepted: record_sent(report_dir, message, accepted))
    return path


def sent_to(report_dir: Path) -> dict[str, dict]:
    """address → the latest send to it recorded in report_dir/.sent.json ({} when none or unreadable)."""
    try:
        sends = json.loads((report_dir / SENT_MARKER).read_text(encoding="utf-8")).get("sends", [])
    except (OSError, ValueError, AttributeError):
        return {}
    latest: dict[str, dict] = {}
    for entry in sends if isinstance(sends, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("recipients"), list):
            for address in entry["recipients"]:
                latest[address] = entry
    return latest


def record_sent(report_dir: Path, message: EmailMessage, accepted: list[str]) -> None:
    """Append this send to the marker, atomically, right after the server accepted it."""
    marker = report_dir / SENT_MARKER
    try:
        sends = json.loads(marker.read_text(encoding="utf-8")).get("sends", [])
    except (OSError, ValueError, AttributeError):
        sends = []
    sends.append({"message_id": str(message["Message-ID"]), "recipients": accepted,
                  "sent_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "subject": str(message["Subject"])})
    write_atomically(marker, (json.dumps({"sends": sends}, indent=2) + "\n").encode("utf-8"))


def full_report_link(settings: Settings, report_dir: Path) -> str | None:
    """The published report, when there is a site; never a file:// path, which no reader could open."""
    site_url = getattr(settings, "site_url", None)
    if site_url:
        return f"{site_url.rstrip('/')}/{report_dir.name}/report.html"
    return None


def sender_address(smtp: SmtpSettings, *, required: bool) -> str:
    if smtp.sender:
        return smtp.sender
    if smtp.user and "@" in smtp.user:
        return smtp.user
    if required:
        raise ConfigError("no sender address: set SMTP_FROM, e.g. SMTP_FROM=reports@example.com.")
    return "liqreport@localhost"


def build_message(summary: dict, report_dir: Path, *, sender: str, recipients: tuple[str, ...],
                  report_link: str | None, pdf: bytes | None = None) -> EmailMessage:
    domain = sender.rpartition("@")[2] or "localhost"
    charts = [dict(chart, cid=make_msgid(domain=domain)[1:-1], png=read_png(report_dir, chart["png"]))
              for chart in email_charts(summary)]
    context = template_context(summary, charts, report_link, pdf_attached=pdf is not None)
    templates = environment()

    message = EmailMessage()
    message["Subject"] = subject(summary)
    message["From"] = sender
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(templates.get_template("email.txt").render(context))
    html = inline_css(templates.get_template("email.html").render(context))
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for chart in charts:
        html_part.add_related(chart["png"], "image", "png", cid=f"<{chart['cid']}>", disposition="inline",
                              filename=Path(chart["file"]).with_suffix(".png").name)
    if pdf is not None:
        message.add_attachment(pdf, "application", "pdf",
                               filename=f"liquidations-{printable(summary['period']['label'])}.pdf")
    # Headers fold only past RFC 5322's 998: at the default 78 an 80-character subject went whole onto a
    # continuation line ('Subject:\n [DEMO DATA] …'), read back with a leading space. Set after the parts
    # are encoded, so bodies keep the 78-column quoted-printable they were given (7-bit safe, no 8BITMIME).
    message.policy = HEADER_POLICY
    return message


def email_charts(summary: dict) -> list[dict]:
    """The charts the report drew as PNG for mail: the first screen's, then each asset's, in report order."""
    with_png = [chart for chart in summary["charts"] if chart.get("png")]
    order = {entry["asset"]: index for index, entry in enumerate(summary["assets"])}
    return sorted(with_png, key=lambda chart: order.get(chart.get("asset"), -1))


def read_png(report_dir: Path, relative: str) -> bytes:
    data = artifact_path(report_dir, relative).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise DeliveryError(f"{report_dir / relative} is not a PNG: "
                            "re-run `liqreport render` for that period.")
    return data


def display_width(png: bytes) -> int:
    """Charts are rendered at 2x: show them at half their pixel width, at most the email's content width."""
    (width,) = struct.unpack(">I", png[16:20])
    return min(EMAIL_CONTENT_WIDTH_PX, max(1, width // 2))


def subject(summary: dict) -> str:
    """'Liquidations 2026-W48: $1.02B, +55% w/w, 59% long, ETH led', [DEMO DATA] first for demo data."""
    text = printable(subject_figures(summary["overview"], summary["period"]["label"]))
    return f"[DEMO DATA] {text}" if summary.get("demo") else text


def printable(value) -> str:
    """Header-safe text: a newline in a value from summary.json must not start a new header."""
    return "".join(character for character in str(value) if character.isprintable())


def template_context(summary: dict, charts: list[dict], report_link: str | None, *,
                     pdf_attached: bool = False) -> dict:
    assets = []
    for entry in summary["assets"]:
        side, side_text = side_share(entry.get("long_share"))
        price = entry.get("price") or {}
        assets.append({**entry, "side": side, "side_text": side_text,
                       "coverage_gap": entry.get("hours_covered", 0) < entry.get("hours_in_period", 0),
                       "price_change": (price.get("move") or {}).get("change"),
                       "price_note": price_note(entry["asset"], price)})
    spikes, all_spikes = [], summary["overview"]["spike_hours"] or []
    for spike in all_spikes[:SPIKE_LINES]:
        side, side_text = side_share(spike["long_share"])
        spikes.append({**spike, "side": side, "side_text": side_text})
    images = [{"cid": chart["cid"], "title": chart.get("title") or "", "alt": chart.get("alt") or "",
               "takeaway": chart.get("takeaway") or "", "width": display_width(chart["png"])}
              for chart in charts]
    label = printable(summary["period"]["label"])
    if pdf_attached:  # shown only without a site: with one, the email links the published report
        where = (f"The full report is attached as a PDF (liquidations-{label}.pdf); it is not published on a "
                 "site.")
    else:
        where = (f"The full report, with every chart and table, is report.html in the {label} report folder "
                 "of the weekly run; it is not published on a site.")
    return {
        "label": label,
        "dates": period_dates(summary["period"]["start"], summary["period"]["end"]),
        "demo": bool(summary.get("demo")),
        "style": PALETTE,
        "overview": summary["overview"],
        "assets": assets,
        "spikes": spikes,
        "spikes_more": len(all_spikes) - len(spikes),  # the largest shown, the rest counted, not hidden
        # null in summary.json: no hour had 28 days of history for two assets, so none could be tested
        "spikes_untested": summary["overview"]["spike_hours"] is None,
        "charts": images,
        "data_tests": summary.get("data_tests") or {"passed": 0, "warned": 0, "failed": 0},
        "data_as_of": utc_time(summary.get("data_as_of")),
        "report_link": report_link,
        "report_where": where,
    }


def price_note(asset: str, price: dict) -> str:
    """'BTC fell 8.2%; $38.1M liquidated per 1% of hourly price moves (+20% vs 12 wk)', from summary.json's
    price figures; why there is no price in a word or two; '' when price is off."""
    status = price.get("status")
    if not status or status == "off":
        return ""
    parts = []
    if price.get("move"):
        parts.append(f"{asset_label(asset)} {price_move(price['move']['change'])}")
    per_move = price.get("per_pct_move")
    if per_move:
        text = f"{usd(per_move['total'])} liquidated per 1% of hourly price moves"
        if per_move.get("change_vs_trailing") is not None:
            text += f" ({change(per_move['change_vs_trailing'])} vs 12 wk)"
        parts.append(text)
    if not parts:
        return f"no price: {price_status_short(status)}"
    if status == "partial":
        parts.append(f"price for {price['hours_with_price']} of {price['hours_in_period']} hours")
    return "; ".join(parts)


def inline_css(html: str) -> str:
    """Every style inline: Gmail drops a whole <style> block on one error. Only @media rules stay behind."""
    inliner = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)
    return inliner.inline(html)


def html_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def image_parts(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_type() == "image/png"]


def send_message(message: EmailMessage, smtp: SmtpSettings, *, log: Log = print,
                 on_accepted: Callable[[list[str]], None] | None = None) -> None:
    """Send over SMTP; every failure is one DeliveryError line that never contains the password.

    `on_accepted` gets the addresses the server took, before a partial refusal is raised. The caller has
    checked what sending needs (check_can_send).
    """
    if smtp.security not in SECURITY_MODES:
        raise ConfigError(f"SMTP_SECURITY {smtp.security!r} is not supported: use starttls, ssl or none.")
    server = f"{smtp.host}:{smtp.port}"
    try:
        with connect(smtp) as client:
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(redact(f"{server} refused every recipient ({describe_refusals(exc.recipients)}): "
                                   "check --to / email_to.", smtp)) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(redact(f"login to {server} as {smtp.user} failed ({exc.smtp_code}): "
                                   "check SMTP_USER and SMTP_PASSWORD.", smtp)) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(redact(f"{server} does not support what was asked ({exc}): check "
                                   "SMTP_SECURITY (starttls, ssl or none) and SMTP_USER.", smtp)) from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(redact(f"{server} refused the sender {exc.sender} ({exc.smtp_code} "
                                   f"{decode(exc.smtp_error)}): check SMTP_FROM.", smtp)) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(redact(f"{server} answered {exc.smtp_code} {decode(exc.smtp_error)}: "
                                   "check the SMTP settings or try again later.", smtp)) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(redact(f"the certificate of {server} is not trusted ({exc.verify_message}, "
                                   "certificate verify failed): check that SMTP_HOST is the name on the "
                                   "server's certificate.", smtp)) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(redact(f"could not send through {server} ({type(exc).__name__}: {exc}): "
                                   "check SMTP_HOST, SMTP_PORT and SMTP_SECURITY.", smtp)) from None
    accepted = [address.addr_spec for address in message["To"].addresses if address.addr_spec not in refused]
    if on_accepted is not None and accepted:
        on_accepted(accepted)
    if refused:
        raise DeliveryError(redact(f"{server} refused {describe_refusals(refused)}; the others were sent: "
                                   "check those addresses.", smtp))
    log(f"Sent to {len(message['To'].addresses)} recipient(s) through {server}.")


def connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.security == "ssl":
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S,
                                context=ssl.create_default_context())
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S)
    if smtp.security == "starttls":
        try:
            client.starttls(context=ssl.create_default_context())
        except BaseException:
            client.close()
            raise
    return client


def describe_refusals(refusals: dict) -> str:
    return ", ".join(f"{address}: {code} {decode(reason)}" for address, (code, reason) in refusals.items())


def decode(reason) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def redact(text: str, smtp: SmtpSettings) -> str:
    return text.replace(smtp.password, "***") if smtp.password else text

