"""Reading a rendered report folder (docs/architecture.md §4) and writing delivery files atomically.

Delivery knows the report only through `summary.json` and the files beside it, never the warehouse.
"""

from __future__ import annotations

import json
from pathlib import Path

from report.errors import DeliveryError
from report.files import write_atomically

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

