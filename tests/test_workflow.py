"""The scheduled workflow: its commands run in order on the simulator (report, site kept on a branch, email
to a real SMTP server), its schedule lands last week settled, it installs as the README says, and actionlint
passes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import html5lib
import pytest
import yaml
from test_email import smtp_server

from report import pipeline
from report.fetch.landing import LandedWindow
from report.fetch.windows import FetchWindow, is_landed_and_settled
from report.periods import last_complete_week, week_of
from report.settings import CONFIG_FILE, Settings
from report.simulator import DEMO_API_KEY, running_simulator

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "weekly-report.yml"
XHTML = "{http://www.w3.org/1999/xhtml}"
# the steps a test cannot and need not repeat: the machine's setup (the checkout below has the dev venv)
SETUP_STEPS = {"System libraries for the PDF (WeasyPrint needs Pango)",
               "Install (the Makefile's target, as in the README)"}
EXPRESSION = re.compile(r"\$\{\{\s*(secrets|vars)\.([A-Z0-9_]+)\s*\}\}")


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def triggers() -> dict:
    document = workflow()
    return document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true


def report_steps() -> list[dict]:
    return workflow()["jobs"]["report"]["steps"]


def run_commands() -> list[str]:
    return [step["run"].strip() for step in report_steps() if "run" in step]


def actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: it comes with the dev extra (pip install -e '.[dev]').")
    return found


def test_workflow_passes_actionlint():
    result = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


# -------------------------------------------------------------- the workflow's commands, as Actions runs them

def step_environment(step: dict, secrets: dict, variables: dict) -> dict:
    """The step's env with ${{ secrets.X }} / ${{ vars.X }} filled in; unset ones are empty, as on GitHub."""
    environment = {}
    for name, value in (step.get("env") or {}).items():
        filled = EXPRESSION.sub(lambda m: (secrets if m[1] == "secrets" else variables).get(m[2], ""),
                                str(value))
        assert "${{" not in filled, f"{step['name']}: an expression this test cannot fill: {value}"
        environment[name] = filled
    return environment


def run_step(step: dict, checkout: Path, environment: dict) -> subprocess.CompletedProcess:
    assert "${{" not in step["run"], f"{step['name']}: an expression in the script itself"
    # as GitHub runs a `run:` step: bash --noprofile --norc -eo pipefail
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          cwd=checkout, env=environment, capture_output=True, text=True, timeout=600)


def run_workflow(checkout: Path, environment: dict, secrets: dict, variables: dict) -> list[str]:
    """Every `run:` step of the report job in order (setup aside); returns the names of the steps run."""
    ran = []
    for step in report_steps():
        if "run" not in step or step["name"] in SETUP_STEPS:
            continue
        result = run_step(step, checkout, environment | step_environment(step, secrets, variables))
        assert result.returncode == 0, f"{step['name']}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        ran.append(step["name"])
    return ran


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def new_checkout(root: Path, name: str, remote: Path) -> Path:
    """What actions/checkout leaves: the repository's files, a remote, and here the dev venv as .venv."""
    checkout = root / name
    checkout.mkdir()
    shutil.copytree(REPO / ".github", checkout / ".github")
    (checkout / ".gitignore").write_text("output/\n.venv\n")
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)
    git("init", "--quiet", "--initial-branch", "main", cwd=checkout)
    git("remote", "add", "origin", str(remote), cwd=checkout)
    return checkout


def site_labels(index: Path) -> list[str]:
    document = html5lib.parse(index.read_text(), namespaceHTMLElements=True)
    return [row.get("data-label") for row in document.iter(f"{XHTML}tr") if row.get("class") == "report"]


def base_environment(root: Path, base_url: str) -> dict:
    hidden = ("KAIKO_API_KEY", "PYTHONPATH", "VIRTUAL_ENV")
    environment = {key: value for key, value in os.environ.items() if key not in hidden and
                   not key.startswith("SMTP_")}
    return environment | {"KAIKO_BASE_URL": base_url, "HOME": str(root),
                          "GITHUB_STEP_SUMMARY": str(root / "summary.md")}


def test_workflow_commands_in_order_email_the_report_and_keep_every_earlier_week(tmp_path):
    remote = tmp_path / "site.git"
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    week = last_complete_week(datetime.now(UTC))
    earlier = week_of(week.start - timedelta(days=7))
    with running_simulator() as simulator, smtp_server() as (inbox, port):
        # last week's job, as it left the gh-pages branch: its report published and kept
        previous = new_checkout(tmp_path, "previous-run", remote)
        settings = Settings(output_dir=previous / "output", api_key=DEMO_API_KEY, base_url=simulator.base_url,
                            assets=("btc", "eth"))
        pipeline.run(settings, earlier, log=lambda line: None)
        pipeline.publish(settings, log=lambda line: None)
        subprocess.run([".github/site-branch.sh", "save", "output/site"], cwd=previous, check=True,
                       capture_output=True)

        # this week's job on a fresh checkout: nothing on disk but what the workflow restores
        checkout = new_checkout(tmp_path, "this-run", remote)
        secrets = {"KAIKO_API_KEY": DEMO_API_KEY, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                   "SMTP_FROM": "reports@example.com"}
        variables = {"SMTP_SECURITY": "none", "LIQREPORT_EMAIL_TO": "risk@example.com,desk@example.com"}
        ran = run_workflow(checkout, base_environment(tmp_path, simulator.base_url), secrets, variables)

    assert ran == ["Restore every earlier report from the published site (the gh-pages branch)",
                   "Fetch, build, test and render the report", "Publish the site",
                   "Keep the site on the gh-pages branch (what the next run restores)",
                   "Email the report (when SMTP and recipients are configured)"]
    assert site_labels(checkout / "output" / "site" / "index.html") == [week.label, earlier.label]
    assert (checkout / "output" / "site" / earlier.label / "report.html").is_file()
    assert (checkout / "output" / "site" / week.label / "report.pdf").is_file()
    # the branch the next run restores holds both weeks, as two commits
    kept = git("ls-tree", "--name-only", "gh-pages", cwd=remote).split()
    assert {week.label, earlier.label, "index.html"} <= set(kept)
    assert len(git("rev-list", "gh-pages", cwd=remote).split()) == 2
    assert len(inbox.envelopes) == 1
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["desk@example.com", "risk@example.com"]
    message = message_from_bytes(inbox.envelopes[0].content, policy=default_policy)
    assert week.label in message["Subject"]
    assert any(part.get_content_type() == "application/pdf" for part in message.iter_attachments())
    assert "Report emailed to 2 recipient(s)" in (tmp_path / "summary.md").read_text()


def test_email_step_says_in_the_job_summary_what_is_not_configured(tmp_path):
    step = next(step for step in report_steps() if step.get("name", "").startswith("Email the report"))
    environment = base_environment(tmp_path, "http://127.0.0.1:9") | step_environment(
        step, {"SMTP_HOST": "smtp.example.com"}, {})
    result = run_step(step, tmp_path, environment)
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "Report not emailed" in summary
    assert "secret SMTP_FROM, variable LIQREPORT_EMAIL_TO." in summary and "SMTP_HOST" not in summary


def test_workflow_restore_finds_nothing_on_the_first_run_and_refuses_an_unreachable_remote(tmp_path):
    remote = tmp_path / "site.git"
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    checkout = new_checkout(tmp_path, "first-run", remote)
    restore = [".github/site-branch.sh", "restore", "output/site"]
    first = subprocess.run(restore, cwd=checkout, capture_output=True, text=True)
    assert first.returncode == 0 and "No gh-pages branch" in first.stdout
    git("remote", "set-url", "origin", str(tmp_path / "missing.git"), cwd=checkout)
    # a remote that cannot be read is not "no history": the job stops before publishing a site without it
    assert subprocess.run(restore, cwd=checkout, capture_output=True, text=True).returncode != 0


# ---------------------------------------------------------------- schedule, install, secrets, Pages

def settle_hours() -> int:
    """The settle rule the scheduled run uses: a committed liqreport.toml's, else the default."""
    config = REPO / CONFIG_FILE
    if config.is_file():
        return tomllib.loads(config.read_text()).get("settle_hours", Settings().settle_hours)
    return Settings().settle_hours


def scheduled_moments(cron: str, after: datetime) -> list[datetime]:
    """The next few moments a weekly `M H * * D` cron fires after `after`."""
    minute, hour, day_of_month, month, day_of_week = cron.split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit(), "a weekly schedule"
    moments, day = [], after.replace(hour=0, minute=0, second=0, microsecond=0)
    while len(moments) < 3:
        moment = day.replace(hour=int(hour), minute=int(minute))
        if moment > after and moment.isoweekday() % 7 == int(day_of_week):
            moments.append(moment)
        day += timedelta(days=1)
    return moments


KAIKO_ROOT = Settings().api_root  # the scheduled job's root: no --base-url


def test_schedule_lands_last_week_settled_so_a_second_run_makes_no_request():
    crons = [entry["cron"] for entry in triggers()["schedule"]]
    assert len(crons) == 1 and "workflow_dispatch" in triggers()
    for moment in scheduled_moments(crons[0], datetime(2025, 3, 3, tzinfo=UTC)):
        week = last_complete_week(moment)
        assert week.end <= moment < week.end + timedelta(days=7)
        window = FetchWindow("btc", "1h", week.start.date(), week.start, week.end)
        # the window as the manifest the scheduled run writes when it lands last week records it
        manifest = LandedWindow(week.label, f"{week.start:%Y-%m-%dT%H:%M:%SZ}",
                                f"{week.end:%Y-%m-%dT%H:%M:%SZ}", f"{moment:%Y-%m-%dT%H:%M:%SZ}", KAIKO_ROOT,
                                "20250303T000000000000Z", Path("landed"), usable=True)
        for rerun_after in (timedelta(minutes=5), timedelta(hours=6)):
            rerun = moment + rerun_after
            assert is_landed_and_settled(window, manifest, rerun, settle_hours(), KAIKO_ROOT), (
                f"a run at {moment} lands {week.label} unsettled (settle_hours = {settle_hours()}): "
                "a second run would fetch it again")


def makefile_dry_run(tmp_path: Path, target: str) -> list[str]:
    """What `make <target>` would run on a fresh checkout (no .venv yet)."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=True)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def test_workflow_installs_with_the_makefile_target_the_readme_uses(tmp_path):
    commands = run_commands()
    readme = (REPO / "README.md").read_text()
    assert "make report" in readme
    report_recipe = makefile_dry_run(tmp_path, "report")
    install_recipe = makefile_dry_run(tmp_path, ".venv/bin/.installed")
    # `make report` = the install target's recipe, then the report command
    assert report_recipe[: len(install_recipe)] == install_recipe
    assert any("pip install" in line for line in install_recipe)
    assert "make .venv/bin/.installed" in commands
    report_command = report_recipe[len(install_recipe):]
    assert len(report_command) == 1
    # the same command as `make report`, refusing to fall back to demo data on the scheduled run
    assert f"{report_command[0]} --no-demo" in commands


def test_workflow_passes_secrets_only_to_the_steps_that_use_them_and_fails_on_a_failed_run():
    steps = {step.get("name", step.get("uses")): step for step in report_steps()}
    text = WORKFLOW.read_text()
    for secret in re.findall(r"secrets\.([A-Z_]+)", text):
        holders = [name for name, step in steps.items() if f"secrets.{secret}" in json.dumps(step.get("env"))]
        assert len(holders) == 1, f"{secret} reaches {holders}"
    assert steps["Fetch, build, test and render the report"]["env"] == {
        "KAIKO_API_KEY": "${{ secrets.KAIKO_API_KEY }}"}
    assert "continue-on-error" not in text
    assert not any("|| true" in command for command in run_commands())


def test_workflow_publishes_the_site_to_pages_even_when_only_the_email_failed():
    names = [step.get("name") for step in report_steps()]
    assert names.index("Fetch, build, test and render the report") < names.index("Publish the site") < \
        names.index("Package the site for GitHub Pages") < names.index(
            "Email the report (when SMTP and recipients are configured)")
    package = next(step for step in report_steps() if step.get("id") == "pages")
    assert package["uses"].startswith("actions/upload-pages-artifact@")
    assert package["with"]["path"] == "output/site"
    deploy = workflow()["jobs"]["deploy"]
    assert deploy["needs"] == "report"
    assert "needs.report.outputs.site-packaged == 'true'" in deploy["if"]
    outputs = workflow()["jobs"]["report"]["outputs"]
    assert outputs["site-packaged"] == "${{ steps.pages.outcome == 'success' }}"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
