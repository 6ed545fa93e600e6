"""Reading a rendered report folder (docs/architecture.md §4) and writing delivery files atomically.

Delivery knows the report only through `summary.json` and the files beside it, never the warehouse.
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from report.errors import DeliveryError
from report.files import write_atomically
from report.settings import TEMPLATES_DIR

SUMMARY_FILE = "summary.json"
REQUIRED_KEYS = ("period", "demo", "totals", "assets", "charts")


def load_summary(report_dir: Path) -> dict:
    path = report_dir / SUMMARY_FILE
    if not path.is_file():
        raise DeliveryError(
            f"no rendered report in {report_dir} (no {SUMMARY_FILE}): "
            "run `liqreport render` for that period first."
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"{path} is not valid JSON ({exc}): "
                            "re-run `liqreport render` for that period.") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(summary, dict) or key not in summary]
    if missing:
        raise DeliveryError(f"{path} lacks {', '.join(missing)}: re-run `liqreport render` for that period.")
    return summary


def artifact_path(report_dir: Path, relative: str) -> Path:
    """A file named in summary.json, refused when it points outside the report folder."""
    path = (report_dir / relative).resolve()
    if not path.is_relative_to(report_dir.resolve()) or not path.is_file():
        raise DeliveryError(
            f"{report_dir / SUMMARY_FILE} names {relative!r}, which is not a file in the report folder: "
            "re-run `liqreport render` for that period."
        )
    return path


def write_if_changed(path: Path, data: bytes) -> bool:
    """Rewrite only when the bytes differ, so publishing twice touches nothing."""
    if path.is_file() and path.read_bytes() == data:
        return False
    write_atomically(path, data)
    return True


def format_usd(amount: float | None) -> str:
    """$12.3M, $640M, $1.2B: three significant figures at most, as people quote liquidations."""
    if amount is None:
        return "n/a"
    sign = "-" if amount < 0 else ""
    value = float(f"{abs(amount):.3g}")  # round first, so 999.96M reads $1.0B and not $1000M
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= threshold:
            scaled = value / threshold
            return f"{sign}${scaled:.1f}{suffix}" if scaled < 100 else f"{sign}${scaled:.0f}{suffix}"
    return f"{sign}${value:,.0f}"


def format_change(change: float | None) -> str:
    """A fraction as a signed percentage (0.184 → '+18.4 %'); 'n/a' when there is no base to compare with."""
    if change is None:
        return "n/a"
    return f"{change * 100:+.1f} %"


def format_share(share: float | None) -> str:
    if share is None:
        return "n/a"
    return f"{share * 100:.0f} %"


def template_environment() -> Environment:
    """HTML templates autoescaped, text templates not; a missing value fails the build (StrictUndefined)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(usd=format_usd, change=format_change, share=format_share)
    return environment
