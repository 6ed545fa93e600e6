"""The one Jinja environment of the report, the email and the site index.

HTML templates are autoescaped (exchange codes and assets come from an API and are never trusted markup),
text templates are not; StrictUndefined makes a missing value fail the render instead of printing nothing.
The filters are report/formatting.py's, so a figure reads the same on every surface.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from report.formatting import FILTERS
from report.settings import TEMPLATES_DIR


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render(template: str, context: dict) -> str:
    return environment().get_template(template).render(**context)
