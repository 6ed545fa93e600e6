"""The `liqreport` command: parse flags, resolve settings once, call the pipeline, print, exit.

User errors (ReportError) become one line on stderr and a non-zero exit code; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from report import __version__
from report.errors import ConfigError, ReportError, storage_error
from report.files import storage_errors

EPILOG_RUN = """examples:
  liqreport run                          last complete ISO week, demo data without KAIKO_API_KEY
  liqreport run --week 2025-W09 --assets btc,eth --pdf
  KAIKO_API_KEY=... liqreport run --no-demo --email-to risk@example.com --send

exit codes: 0 done, 1 failed (API, data test, disk), 2 a mistake in flags or config,
  75 another liqreport is writing the same output folder (try again later, or pass --wait)
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message):
        raise ConfigError(f"{message} (see `{self.prog} --help`).")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# With --quiet, only these get through: what was done (summaries), what went wrong, and that the numbers are
# the simulator's (a scheduled job's log must say so as plainly as its report does).
SUMMARY_PREFIXES = ("[fetch] done:", "[price] done:", "Completed:", "Report:", "Site:", "Email:", "Sent to",
                    "Timings:")
PROBLEM_WORDS = ("FAILED", "FAIL ", "WARN", "Warning", "ERROR", "already sent", "Waiting for", "DEMO DATA")


def quiet(log: Callable[[str], None]) -> Callable[[str], None]:
    def summaries_and_problems(message: str) -> None:
        if message.startswith(SUMMARY_PREFIXES) or any(word in message for word in PROBLEM_WORDS):
            log(message)

    return summaries_and_problems


def console(args: argparse.Namespace, stream=None):
    """(log, progress) for this command: a bar on a terminal, a line every few seconds in a log or CI,
    nothing but summaries and errors with --quiet."""
    from report.fetch.progress import BarProgress, LineProgress, Progress

    stream = stream or sys.stderr
    if getattr(args, "quiet", False):
        return quiet(_log), Progress()
    if stream.isatty():
        bar = BarProgress(stream)
        return bar.above(_log), bar
    return _log, LineProgress(_log)


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("source and output (flags > environment > liqreport.toml)")
    group.add_argument("--assets", help="comma-separated asset codes, e.g. btc,eth,sol")
    group.add_argument("--interval", help="1h..24h or 1d for `fetch`; reports are built from 1h (default 1h)")
    group.add_argument("--region", help="us or eu (env KAIKO_REGION)")
    group.add_argument("--base-url", dest="base_url", help="API root, e.g. a mirror (env KAIKO_BASE_URL)")
    group.add_argument(
        "--output-dir", dest="output_dir", help="where everything is written (default output/)"
    )
    group.add_argument("--config", type=Path, help="config file (default ./liqreport.toml)")
    group.add_argument("--site-url", dest="site_url",
                       help="where the published site lives, for the email's links (e.g. https://x.github.io/r)")
    group.add_argument(
        "--no-demo",
        dest="no_demo",
        action="store_true",
        default=None,
        help="fail instead of falling back to the simulator when KAIKO_API_KEY is unset",
    )
    group.add_argument(
        "--wait",
        dest="wait_for_lock",
        action="store_true",
        default=None,
        help="when another liqreport is writing the output folder, wait for it instead of exiting (75)",
    )


def _add_period_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("period (default: the last complete ISO week, UTC)")
    group.add_argument("--week", help="ISO week, e.g. 2025-W09")
    group.add_argument("--start", help="inclusive UTC start, e.g. 2025-02-03 (with --end)")
    group.add_argument("--end", help="exclusive UTC end, e.g. 2025-02-10 (with --start)")


def _add_fetch_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fetching")
    group.add_argument("--refresh", action="store_true", help="re-fetch windows already landed")
    group.add_argument("--concurrency", type=int, help="windows fetched at once (default 8)")
    group.add_argument(
        "--max-rps",
        dest="max_requests_per_second",
        type=float,
        help="client-side request-rate limit in requests/s (default 50)",
    )
    group.add_argument(
        "--page-size", dest="page_size", type=int, help="rows per page, 1..1000 (default 1000)"
    )
    group.add_argument(
        "--settle-hours", dest="settle_hours", type=int,
        help="hours after a window ends before a landed fetch of it is final (default 24)",
    )
    group.add_argument("--quiet", action="store_true",
                       help="print only the summaries, errors and the DEMO DATA notice (no progress)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="liqreport",
        description="Weekly crypto liquidation report from Kaiko data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG_RUN,
    )
    parser.add_argument("--version", action="version", version=f"liqreport {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name, help_text, example):
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return sub

    run = command(
        "run",
        "Fetch, build, test and render the weekly report (and email it if asked).",
        "liqreport run --week 2025-W09 --assets btc,eth --pdf",
    )
    _add_settings_flags(run)
    _add_period_flags(run)
    _add_fetch_flags(run)
    run.add_argument("--pdf", action="store_true", help="also write report.pdf (needs the pdf extra)")
    run.add_argument("--email-to", dest="email_to", help="comma-separated recipients: also build report.eml")
    run.add_argument("--send", action="store_true", help="send the email over SMTP (SMTP_* environment)")
    run.add_argument("--resend", action="store_true",
                     help="with --send: send even to recipients this period's email already went to")

    fetch = command(
        "fetch",
        "Land raw liquidation pages from the history's start (2025-01-08) to the period's end.",
        "liqreport fetch --assets btc,eth --start 2025-01-06 --end 2025-03-03",
    )
    _add_settings_flags(fetch)
    _add_period_flags(fetch)
    _add_fetch_flags(fetch)

    build = command(
        "build",
        "Run the SQL models and their data tests into output/warehouse.duckdb.",
        "liqreport build --select fct_liquidations_daily",
    )
    _add_settings_flags(build)
    _add_period_flags(build)
    build.add_argument("--select", help="run this model and what it depends on")
    build.add_argument("--skip-tests", action="store_true", help="do not run the data tests")
    build.add_argument("--full-refresh", action="store_true",
                       help="rebuild incremental models from every landed page, as dbt's --full-refresh")

    test = command("test", "Run the data tests against the warehouse.", "liqreport test")
    _add_settings_flags(test)
    _add_period_flags(test)

    render = command(
        "render",
        "Render the report from the warehouse, without fetching.",
        "liqreport render --week 2025-W09 --pdf",
    )
    _add_settings_flags(render)
    _add_period_flags(render)
    render.add_argument("--pdf", action="store_true", help="also write report.pdf (needs the pdf extra)")

    email = command(
        "email",
        "Build report.eml for a rendered period; --send sends it over SMTP.",
        "liqreport email --week 2025-W09 --to risk@example.com --send",
    )
    _add_settings_flags(email)
    _add_period_flags(email)
    email.add_argument("--to", dest="email_to", help="comma-separated recipients")
    email.add_argument("--send", action="store_true", help="send over SMTP (SMTP_HOST, SMTP_PORT, ...)")
    email.add_argument("--resend", action="store_true",
                       help="with --send: send even to recipients this period's email already went to")
    email.add_argument("--attach-pdf", action="store_true",
                       help="attach report.pdf when it exists (without site_url it is attached anyway)")

    publish = command(
        "publish", "Build output/site/: an index of every rendered report.", "liqreport publish"
    )
    _add_settings_flags(publish)

    simulate = command(
        "simulate",
        "Serve the Kaiko-compatible simulator on loopback.",
        "liqreport simulate --port 8765 --latency-ms 150",
    )
    simulate.add_argument("--port", type=int, default=8765, help="1..65535, or 0 for any free port")
    simulate.add_argument("--seed", type=int, default=7, help="another seed serves other numbers")
    simulate.add_argument("--latency-ms", type=float, default=0.0)
    simulate.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of requests answered with a 429/5xx/truncated body",
    )
    return parser


def settings_from_args(args: argparse.Namespace, environ=None):
    from report.settings import resolve

    names = (
        "assets",
        "interval",
        "region",
        "base_url",
        "output_dir",
        "no_demo",
        "concurrency",
        "max_requests_per_second",
        "email_to",
        "page_size",
        "settle_hours",
        "site_url",
        "wait_for_lock",
    )
    flags = {name: getattr(args, name, None) for name in names}
    config = getattr(args, "config", None)
    # ./liqreport.toml is optional; a file named with --config must exist
    return resolve(
        flags, dict(os.environ if environ is None else environ), config, config_required=config is not None
    )


def period_from_args(args: argparse.Namespace, now: datetime | None = None):
    from report import periods

    week, start, end = getattr(args, "week", None), getattr(args, "start", None), getattr(args, "end", None)
    if week and (start or end):
        raise ConfigError("give either --week or --start/--end, not both.")
    if week:
        return periods.iso_week(week)
    if start or end:
        if not (start and end):
            raise ConfigError(
                "--start and --end go together: give both, e.g. --start 2025-02-03 --end 2025-02-10."
            )
        return periods.explicit(start, end)
    return periods.last_complete_week(now or datetime.now(UTC))


def check_report_inputs(settings, period, now: datetime) -> None:
    """A report needs hourly data and a period that is over; refuse anything else before any work."""
    if settings.interval != "1h":
        raise ConfigError(
            f"the report is built from hourly data; --interval {settings.interval} can be landed with "
            '`liqreport fetch` but not reported: drop --interval (or set interval = "1h").'
        )
    if period.end > now:
        raise ConfigError(
            f"{period.label} is not over yet (it ends {period.end:%Y-%m-%d %H:%M} UTC): a partial period "
            "would be compared with whole ones; pick an earlier --week or an --end in the past."
        )


def check_period_in_history(settings, period) -> None:
    """A period that ends before the endpoint's history starts has nothing to fetch or report: refuse it
    before any request, rather than fetch empty weeks and report that nothing covers it."""
    from report.fetch.windows import as_utc

    history_start = as_utc(settings.history_start)
    if period.end <= history_start:
        raise ConfigError(
            f"{period.label} ends before the endpoint's history starts ({history_start:%Y-%m-%d}): there is "
            "nothing to fetch or report; pick a later --week."
        )


# Commands that only go on from what an earlier one wrote there (a warehouse, a rendered report).
READS_EARLIER_OUTPUT = ("test", "render", "email", "publish")


def check_output_exists(command: str, output_dir) -> None:
    """Such a command in a folder that does not exist fails before it takes the lock, which would create
    the folder and its .lock: a command with nothing to read leaves no trace."""
    if command in READS_EARLIER_OUTPUT and not output_dir.exists():
        raise ReportError(f"{output_dir} does not exist: there is nothing to {command} yet; run `liqreport "
                          "run` first, or pass the --output-dir of an earlier run.")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        from report.simulator import serve_cli

        return serve_cli(
            port=args.port, seed=args.seed, latency_ms=args.latency_ms, fault_rate=args.fault_rate, log=_log
        )
    settings = settings_from_args(args)
    period = None if args.command == "publish" else period_from_args(args)
    if args.command in ("run", "fetch", "build", "render"):
        check_period_in_history(settings, period)
    if args.command in ("run", "build", "render"):
        check_report_inputs(settings, period, datetime.now(UTC))
    if args.command in ("run", "email") and getattr(args, "send", False):
        from report.deliver.email import check_can_send

        check_can_send(settings)
    check_output_exists(args.command, settings.output_dir)
    # a write error that names no file (write() and fsync() carry none) names the output folder
    with storage_errors(settings.output_dir):
        run_command(args, settings, period)
    return 0


def run_command(args: argparse.Namespace, settings, period) -> None:
    from report import pipeline

    log, progress = console(args) if args.command in ("run", "fetch") else (_log, None)
    if args.command == "publish":
        pipeline.publish(settings, log=_log)
    elif args.command == "run":
        pipeline.run(settings, period, refresh=args.refresh, pdf=args.pdf, send=args.send,
                     resend=args.resend, log=log, progress=progress)
    elif args.command == "fetch":
        pipeline.fetch(settings, period, refresh=args.refresh, log=log, progress=progress)
    elif args.command == "build":
        pipeline.build(settings, period, select=args.select, run_tests=not args.skip_tests,
                       full_refresh=args.full_refresh, log=_log)
    elif args.command == "test":
        pipeline.test(settings, period, log=_log)
    elif args.command == "render":
        pipeline.render(settings, period, pdf=args.pdf, log=_log)
    elif args.command == "email":
        pipeline.email(settings, period, send=args.send, resend=args.resend, attach_pdf=args.attach_pdf,
                       log=_log)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help(sys.stderr)
            return 2
        return dispatch(args)
    except ReportError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        # A full disk (or quota, read-only, I/O error) in a stage that did not name the file itself;
        # anything else is a bug and keeps its traceback.
        error = storage_error(exc)
        if error is None:
            raise
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("Interrupted: complete windows and the previous report are kept.", file=sys.stderr)
        return 130
