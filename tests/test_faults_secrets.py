"""Fault matrix, family "secrets": the API key and the SMTP password appear in no file under output/,
no log line and no error — through a whole run that fetches, builds, renders, emails and publishes,
and through the failures that are most tempted to echo a request (401, exhausted retries, refused login)."""

import base64
import json
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fetch_helpers import RewritingProxy, _ProxyHandler

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


URL_PASSWORD = "urlpw-Zq81-SECRETURL"


class _BasicAuthMirror(_ProxyHandler):
    """The test mirror, behind HTTP basic auth: a request without the right credentials gets 401."""

    def do_GET(self):  # noqa: N802 - the base class's naming
        expected = "Basic " + base64.b64encode(f"reporter:{URL_PASSWORD}".encode()).decode()
        self.server.seen_auth.append(self.headers.get("Authorization") == expected)
        if self.headers.get("Authorization") != expected:
            body = b'{"result": "error", "message": "authentication required"}'
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


def test_credentials_in_the_base_url_are_sent_as_basic_auth_and_written_nowhere(monkeypatch, tmp_path,
                                                                                  capsys):
    """Issue 10 point 4: http://user:secret@host in --base-url was published in report.html, summary.json
    and the site."""
    import threading

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAIKO_API_KEY", API_KEY)
    with running_simulator() as sim:
        mirror = RewritingProxy(sim.base_url, lambda body: body)
        mirror.RequestHandlerClass = _BasicAuthMirror
        mirror.seen_auth = []
        thread = threading.Thread(target=mirror.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            public = mirror.base_url
            with_credentials = public.replace("http://", f"http://reporter:{URL_PASSWORD}@")
            code = main(["run", "--week", "2025-W20", "--assets", "btc", "--base-url", with_credentials,
                         "--email-to", "risk@example.com"])
            assert code == 0, capsys.readouterr().err
            assert main(["publish"]) == 0
        finally:
            mirror.shutdown()
            thread.join()
            mirror.server_close()
    output = capsys.readouterr()
    assert mirror.seen_auth and all(mirror.seen_auth)  # the credentials did reach the mirror, every time
    assert URL_PASSWORD not in output.out + output.err and "reporter:" not in output.err
    found = [path for path in (tmp_path / "output").rglob("*") if path.is_file()
             and (URL_PASSWORD.encode() in path.read_bytes() or b"reporter:" in path.read_bytes())]
    assert found == []
    summary = json.loads((tmp_path / "output" / "reports" / "2025-W20" / "summary.json").read_text())
    assert summary["source"] == f"{public}/v2/data/liquidation.v1/token/{{asset}}"
    manifest = json.loads(next((tmp_path / "output" / "landing").rglob("_manifest.json")).read_text())
    assert manifest["api_root"] == public and manifest["request"]["url"].startswith(public + "/")
