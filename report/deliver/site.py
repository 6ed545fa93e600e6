"""The published static site: every rendered period copied to site/<label>/ and one index page, newest first.

Idempotent: a file is rewritten only when its bytes change and the index carries no clock, so publishing
twice changes nothing. Periods already on the site stay, even when their report folder is gone (a fresh CI
checkout only renders the current week).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from report.deliver.report_folder import SUMMARY_FILE, load_summary, write_if_changed
from report.errors import DeliveryError
from report.formatting import period_dates
from report.palette import PALETTE
from report.templating import render

INDEX_FILE = "index.html"
# report.eml names the recipients: it is the mail, not part of the public report.
PRIVATE_FILES = {"report.eml"}


def publish(reports_dir: Path, site_dir: Path) -> Path:
    report_dirs = rendered_reports(reports_dir)
    if not report_dirs and not rendered_reports(site_dir):
        raise DeliveryError(f"no rendered reports in {reports_dir}: run `liqreport run` first, then publish.")
    for report_dir in report_dirs:
        mirror(report_dir, site_dir / report_dir.name)
    entries = sorted((index_entry(folder) for folder in rendered_reports(site_dir)),
                     key=lambda entry: (entry["start"], entry["label"]), reverse=True)
    html = render("site_index.html", {"reports": entries, "style": PALETTE})
    index = site_dir / INDEX_FILE
    write_if_changed(index, html.encode("utf-8"))
    return index


def rendered_reports(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(child for child in folder.iterdir()
                  if child.is_dir() and not child.name.startswith(".") and (child / SUMMARY_FILE).is_file())


def published_files(report_dir: Path) -> dict[Path, Path]:
    """Relative path → source file, for every file of the report that belongs on the site."""
    files = {}
    for path in sorted(report_dir.rglob("*")):
        relative = path.relative_to(report_dir)
        if (path.is_file() and not path.is_symlink() and relative.name not in PRIVATE_FILES
                and not any(part.startswith(".") for part in relative.parts)):
            files[relative] = path
    return files


def mirror(report_dir: Path, target: Path) -> None:
    """Make target an exact copy of the report's public files; unchanged files are not touched."""
    files = published_files(report_dir)
    for relative, source in files.items():
        write_if_changed(target / relative, source.read_bytes())
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target)
        if path.is_file() and relative not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            shutil.rmtree(path)


def index_entry(folder: Path) -> dict:
    summary = load_summary(folder)
    period = summary["period"]
    files = summary.get("files") or {}
    pdf = files.get("pdf")
    return {
        "label": folder.name,
        "start": period.get("start", ""),
        "dates": dates(period),
        "assets": [str(entry.get("asset", "")).upper() for entry in summary["assets"]],
        "total_amount": summary["totals"].get("total_amount"),
        "long_share": long_share(summary),
        # the report's own sentence; reports rendered before summary.json had an overview have none
        "verdict": (summary.get("overview") or {}).get("verdict"),
        "demo": bool(summary.get("demo")),
        "html": files.get("html") or "report.html",
        "pdf": pdf if pdf and (folder / pdf).is_file() else None,
        "data": [{"path": name, "stem": Path(name).stem, "format": data_format(name)}
                 for name in files.get("data") or [] if (folder / name).is_file()],
        "data_tests": summary.get("data_tests") or {},
    }


def long_share(summary: dict) -> float | None:
    """The overview's long share; a report rendered before summary.json carried one has only its totals."""
    if "overview" in summary:
        return summary["overview"].get("long_share")
    totals = summary["totals"]
    return totals["long_amount"] / totals["total_amount"] if totals.get("total_amount") else None


def data_format(name: str) -> str:
    suffix = Path(name).suffix.lstrip(".")
    return {"csv": "CSV", "parquet": "Parquet"}.get(suffix, suffix.upper())


def dates(period: dict) -> str:
    """The period as the report's header says it, 'Mon 23 Nov – Sun 29 Nov 2026 (UTC)'; the raw strings if a
    summary.json carries something unreadable."""
    try:
        return period_dates(period["start"], period["end"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return f"{period.get('start', '')} – {period.get('end', '')}"
