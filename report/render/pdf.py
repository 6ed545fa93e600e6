"""report.html → report.pdf through WeasyPrint (the optional `pdf` extra)."""

from __future__ import annotations

from pathlib import Path

from report.errors import RenderError


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher
    except ImportError:
        raise RenderError("PDF output needs WeasyPrint: pip install 'liqreport[pdf]'") from None
    # the report is self-contained: printing it must never reach the network or the disk
    fetcher = URLFetcher(allowed_protocols=["data"])
    weasyprint.HTML(filename=str(html_path), url_fetcher=fetcher).write_pdf(str(pdf_path))
    return pdf_path
