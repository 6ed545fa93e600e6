"""report.html → report.pdf through WeasyPrint (the optional `pdf` extra)."""

from __future__ import annotations

from pathlib import Path

from report.errors import RenderError


def layout(html: str):
    """The laid-out pages (weasyprint.Document): the PDF, and what the tests read page boxes from."""
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher
    except ImportError:
        raise RenderError("PDF output needs WeasyPrint: pip install 'liqreport[pdf]'") from None
    # the report is self-contained: printing it must never reach the network or the disk
    fetcher = URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print").render()


def write_pdf(html: str, pdf_path: Path) -> Path:
    layout(html).write_pdf(str(pdf_path))
    return pdf_path
