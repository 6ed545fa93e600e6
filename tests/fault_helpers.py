"""Shared by the fault-matrix tests that drive `liqreport` as real processes, and the truth they check.

Expected numbers come from the simulator's generator (`hourly_truth`), summed here in plain Python, never
from the warehouse or the report under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from report.periods import Period

PROJECT = Path(__file__).resolve().parent.parent


def cli_env(base_url: str | None, api_key: str | None = "any-key-works-here", **extra: str) -> dict:
    """The environment of a `liqreport` child: pointed at base_url with a key (or at the demo without)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("KAIKO_", "SMTP_"))}
    if base_url:
        env["KAIKO_BASE_URL"] = base_url
    if api_key:
        env["KAIKO_API_KEY"] = api_key
    return {**env, **extra}


def liqreport(*args: str) -> list[str]:
    return [sys.executable, "-m", "report", *args]


class Child:
    """A `liqreport` process whose stderr is collected line by line in the background."""

    def __init__(self, argv: list[str], env: dict, cwd: Path):
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, prefix: str, timeout: float = 60.0) -> None:
        """Block until a stderr line starts with `prefix` (the child reached that point)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(prefix) for line in self.lines):
                return
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"exited {self.process.returncode} before {prefix!r}:\n{self.stderr}")
            time.sleep(0.02)
        raise AssertionError(f"no line {prefix!r} within {timeout}s:\n{self.stderr}")

    def finish(self, timeout: float = 240.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self.process.stderr.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.finish()

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def run_cli(argv: list[str], env: dict, cwd: Path, timeout: float = 240.0) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def week_truth(sim, asset: str, period: Period) -> dict:
    """total_amount, total_trades and hours with data for `asset` in `period`, from the generator."""
    amount, trades, hours = 0.0, 0, 0
    hour = period.start
    while hour < period.end:
        row = sim.hourly_truth(asset, hour)
        if row is not None:
            amount += row["total_amount"]
            trades += row["total_trades"]
            hours += 1
        hour += timedelta(hours=1)
    return {"total_amount": amount, "total_trades": trades, "hours_with_data": hours}


def summary_of(output: Path, period: Period) -> dict:
    return json.loads((output / "reports" / period.label / "summary.json").read_text(encoding="utf-8"))


def weekly_fact(output: Path, asset: str, period: Period) -> tuple[float, int, int] | None:
    """(total_amount, total_trades, hours_covered) of fct_liquidations_weekly for the period's week."""
    with duckdb.connect(str(output / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "select total_amount, total_trades, hours_covered from fct_liquidations_weekly "
            "where asset = ? and week_start = ?", [asset, period.start.date()]).fetchone()


def one_error_line(stderr: str) -> str:
    """The single `Error:` line of a failed command; fails the test on a traceback or more lines."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    return errors[0]
