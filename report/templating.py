"""The one Jinja environment of the report, the email and the site index.

HTML templates are autoescaped (exchange codes and assets come from an API and are never trusted markup),
text templates are not; StrictUndefined makes a missing value fail the render instead of printing nothing.
The filters are report/formatting.py's, so a figure reads the same on every surface.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from report.formatting import FILTERS, side_share
from report.settings import TEMPLATES_DIR


def side_marked(text: str, long_share: float | None) -> Markup:
    """The sentence, escaped, with its side phrase ('59% long', '53% short') in that side's colour, as the
    tables print it."""
    side, phrase = side_share(long_share)
    escaped = escape(text)
    if not side or phrase not in text:
        return escaped
    return escaped.replace(escape(phrase), Markup('<span class="{}">{}</span>').format(side, phrase), 1)


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
    env.filters["side_marked"] = side_marked
    return env


def render(template: str, context: dict) -> str:
    return environment().get_template(template).render(**context)
