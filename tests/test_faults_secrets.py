"""Fault matrix, family "secrets": the API key and the SMTP password appear in no file under output/,
no log line and no error — through a whole run that fetches, builds, renders, emails and publishes,
and through the failures that are most tempted to echo a request (401, exhausted retries, refused login)."""

import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from report.cli import main
from report.simulator import FaultPlan, running_simulator

API_KEY = "sk-live-7Qx9Zt3SECRETKEY"
SMTP_PASSWORD = "pw-Hunter2-SECRETPASS"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"reporter" and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


def free_port() -> int:
    # aiosmtpd's Controller checks readiness by connecting to its port, so port 0 cannot be used.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def secrets_in_tree(root):
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (API_KEY, SMTP_PASSWORD):
                if secret.encode() in data:
                    found.append((path.relative_to(root), secret[:6]))
    return found


def test_secrets_never_written_or_logged_through_a_whole_run(monkeypatch, tmp_path, capsys, smtp_server):
    controller, inbox = smtp_server
    monkeypatch.chdir(tmp_path)
    with running_simulator(api_key=API_KEY) as sim:
        env = {"KAIKO_BASE_URL": sim.base_url, "KAIKO_API_KEY": API_KEY, "SMTP_HOST": "127.0.0.1",
               "SMTP_PORT": str(controller.port), "SMTP_USER": "reporter", "SMTP_PASSWORD": SMTP_PASSWORD,
               "SMTP_FROM": "reports@example.com", "SMTP_SECURITY": "none"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(["run", "--week", "2025-W20", "--assets", "btc,eth", "--email-to", "risk@example.com",
                     "--send"])
        assert code == 0, capsys.readouterr().err
        assert main(["publish"]) == 0
    output = capsys.readouterr()
    assert len(inbox.messages) == 1
    assert (tmp_path / "output" / "reports" / "2025-W20" / "report.html").exists()
    for secret in (API_KEY, SMTP_PASSWORD):
        assert secret not in output.out and secret not in output.err
        assert secret.encode() not in inbox.messages[0]
    assert secrets_in_tree(tmp_path / "output") == []


def test_api_key_absent_from_errors_on_401_and_exhausted_retries(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "liqreport.toml").write_text("max_attempts = 2\n")
    with running_simulator(api_key="another-key") as sim:
        monkeypatch.setenv("KAIKO_BASE_URL", sim.base_url)
        monkeypatch.setenv("KAIKO_API_KEY", API_KEY)
        assert main(["fetch", "--week", "2025-W20", "--assets", "btc"]) == 1
    with running_simulator(faults=FaultPlan(rate=1.0, kinds=("503",), retry_after_s=0)) as sim:
        monkeypatch.setenv("KAIKO_BASE_URL", sim.base_url)
        assert main(["fetch", "--week", "2025-W20", "--assets", "btc"]) == 1
    output = capsys.readouterr()
    assert "401" in output.err and "503" in output.err
    assert API_KEY not in output.out + output.err
    assert secrets_in_tree(tmp_path) == []


def test_smtp_password_absent_from_a_failed_login(monkeypatch, tmp_path, capsys, smtp_server):
    controller, _ = smtp_server
    monkeypatch.chdir(tmp_path)
    with running_simulator() as sim:
        monkeypatch.setenv("KAIKO_BASE_URL", sim.base_url)
        monkeypatch.setenv("KAIKO_API_KEY", API_KEY)
        assert main(["run", "--week", "2025-W20", "--assets", "btc"]) == 0
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_USER": "reporter",
                        "SMTP_PASSWORD": SMTP_PASSWORD + "-wrong", "SMTP_SECURITY": "none",
                        "SMTP_FROM": "reports@example.com"}.items():
        monkeypatch.setenv(name, value)
    code = main(["email", "--week", "2025-W20", "--assets", "btc", "--to", "risk@example.com", "--send"])
    output = capsys.readouterr()
    assert code == 1
    assert "Error:" in output.err
    assert SMTP_PASSWORD not in output.out + output.err
    assert secrets_in_tree(tmp_path) == []
