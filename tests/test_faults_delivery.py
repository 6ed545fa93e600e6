"""Fault matrix, family "email once": a period's email goes to each recipient once, whatever is rerun.

Every send is recorded in the report folder's `.sent.json` (Message-ID, recipients, time), which a
re-render keeps; a rerun (also after a kill) skips the recipients it lists unless --resend; a recipient
the server refused is not recorded, so the rerun tries only that one. Against a real SMTP server.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil

import pytest
from fault_helpers import Child, cli_env, liqreport
from test_email import smtp_server

from report import pipeline
from report.errors import DeliveryError
from report.periods import iso_week
from report.settings import Settings, SmtpSettings
from report.simulator import DEMO_API_KEY, running_simulator

WEEK = iso_week("2025-W09")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One rendered period (no email yet), copied by each test."""
    output = tmp_path_factory.mktemp("rendered") / "output"
    with running_simulator(seed=7) as sim:
        settings = Settings(base_url=sim.base_url, api_key=DEMO_API_KEY, assets=("btc",), output_dir=output)
        pipeline.run(settings, WEEK, log=lambda _: None)
    return output


@pytest.fixture
def output(rendered, tmp_path):
    return shutil.copytree(rendered, tmp_path / "output")


def mail_settings(output, port, to=("risk@example.com",)) -> Settings:
    return Settings(output_dir=output, assets=("btc",), email_to=tuple(to),
                    smtp=SmtpSettings(host="127.0.0.1", port=port, sender="reports@example.com",
                                      security="none"))


def marker(output) -> dict:
    return json.loads((output / "reports" / WEEK.label / ".sent.json").read_text())


def message_ids(inbox) -> list[str]:
    return [email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"]
            for e in inbox.envelopes]


def test_a_rerun_does_not_send_the_same_report_again(output):
    lines = []
    with smtp_server() as (inbox, port):
        settings = mail_settings(output, port)
        pipeline.email(settings, WEEK, send=True, log=lines.append)
        pipeline.email(settings, WEEK, send=True, log=lines.append)
    assert len(inbox.envelopes) == 1
    [sent] = marker(output)["sends"]
    assert sent["message_id"] == message_ids(inbox)[0]
    assert sent["recipients"] == ["risk@example.com"]
    assert sent["sent_at"].endswith("Z")
    skipped = f"Email for {WEEK.label} already sent to risk@example.com"
    assert any(line.startswith(skipped) and "--resend" in line for line in lines)


def test_resend_sends_again_and_records_both(output):
    with smtp_server() as (inbox, port):
        settings = mail_settings(output, port)
        pipeline.email(settings, WEEK, send=True, log=lambda _: None)
        pipeline.email(settings, WEEK, send=True, resend=True, log=lambda _: None)
    assert len(inbox.envelopes) == 2
    assert [entry["message_id"] for entry in marker(output)["sends"]] == message_ids(inbox)


def test_a_new_recipient_gets_it_and_the_others_do_not_get_it_twice(output):
    with smtp_server() as (inbox, port):
        pipeline.email(mail_settings(output, port), WEEK, send=True, log=lambda _: None)
        both = mail_settings(output, port, to=("risk@example.com", "desk@example.com"))
        pipeline.email(both, WEEK, send=True, log=lambda _: None)
    assert [envelope.rcpt_tos for envelope in inbox.envelopes] == [["risk@example.com"], ["desk@example.com"]]


def test_a_refused_recipient_is_not_recorded_and_only_it_is_tried_again(output):
    with smtp_server() as (inbox, port):
        settings = mail_settings(output, port, to=("risk@example.com", "nobody@example.com"))
        with pytest.raises(DeliveryError, match="refused nobody@example.com"):
            pipeline.email(settings, WEEK, send=True, log=lambda _: None)
        assert marker(output)["sends"][0]["recipients"] == ["risk@example.com"]
        with pytest.raises(DeliveryError, match="refused every recipient"):
            pipeline.email(settings, WEEK, send=True, log=lambda _: None)
    assert [envelope.rcpt_tos for envelope in inbox.envelopes] == [["risk@example.com"]]


def test_a_rerun_after_a_kill_that_came_after_sending_sends_nothing(output, tmp_path):
    """Issue 10 point 9: a rerun re-renders the folder; the marker goes with it."""
    with running_simulator(seed=7) as sim, smtp_server() as (inbox, port):
        env = cli_env(sim.base_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
                      SMTP_FROM="reports@example.com")
        argv = liqreport("run", "--week", WEEK.label, "--assets", "btc", "--output-dir", str(output),
                         "--email-to", "risk@example.com", "--send")
        first = Child(argv, env, tmp_path)
        first.wait_for("Sent to 1 recipient")
        first.kill()
        again = Child(argv, env, tmp_path)
        assert again.finish() == 0, again.stderr
        assert f"Email for {WEEK.label} already sent to risk@example.com" in again.stderr
    assert len(inbox.envelopes) == 1


def test_the_marker_is_not_published(output):
    with smtp_server() as (_, port):
        pipeline.email(mail_settings(output, port), WEEK, send=True, log=lambda _: None)
    pipeline.publish(mail_settings(output, port), log=lambda _: None)
    assert (output / "reports" / WEEK.label / ".sent.json").exists()
    assert not list((output / "site").rglob(".sent.json"))
    site_files = [path for path in (output / "site").rglob("*") if path.is_file()]
    assert site_files and not [path for path in site_files if b"risk@example.com" in path.read_bytes()]
