"""Sending over STARTTLS and implicit TLS to a real aiosmtpd server with a throw-away certificate."""

from __future__ import annotations

import email
import email.policy
import shutil
import ssl
import subprocess
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from test_email import Inbox, free_port, settings_for, write_report_folder

from report.deliver.email import deliver
from report.errors import DeliveryError

PASSWORD = "tls-Pa55word"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1; clients trust it only through SSL_CERT_FILE."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return folder / "cert.pem", folder / "key.pem"


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def accept_reports_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"reports" and auth_data.password == PASSWORD.encode())


@contextmanager
def tls_server(certificate, *, implicit: bool):
    inbox = Inbox()
    # aiosmtpd does not count implicit TLS as TLS for auth_require_tls, so that check is for STARTTLS only
    options = {"ssl_context": server_context(certificate), "auth_require_tls": False} if implicit else {
        "tls_context": server_context(certificate), "require_starttls": True, "auth_require_tls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=accept_reports_login,
                            **options)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_sends_over_tls_and_logs_in(tmp_path, certificate, monkeypatch, security):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    report = write_report_folder(tmp_path / "reports")
    with tls_server(certificate, implicit=security == "ssl") as (inbox, port):
        settings = settings_for(tmp_path, port, security=security, user="reports", password=PASSWORD)
        deliver(settings, report, send=True, log=lambda line: None)
    message = email.message_from_bytes(inbox.envelopes[0].content, policy=email.policy.default)
    assert message["Subject"].strip().startswith("[DEMO DATA] Liquidations 2025-W09:")
    assert inbox.envelopes[0].rcpt_tos == ["risk@example.com"]


def test_email_refuses_a_server_certificate_it_does_not_trust(tmp_path, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    report = write_report_folder(tmp_path / "reports")
    with tls_server(certificate, implicit=False) as (inbox, port):
        settings = settings_for(tmp_path, port, security="starttls", user="reports", password=PASSWORD)
        with pytest.raises(DeliveryError, match="(?i)certificate.verify.failed") as failure:
            deliver(settings, report, send=True, log=lambda line: None)
    assert PASSWORD not in str(failure.value)
    assert inbox.envelopes == []
