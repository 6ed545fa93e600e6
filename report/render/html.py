"""The Jinja environment for the report: autoescaped, StrictUndefined, people-friendly number filters."""

from __future__ import annotations

import base64

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from report.formatting import FILTERS
from report.settings import TEMPLATES_DIR


def environment() -> Environment:
    # autoescape for every template: exchange codes and assets come from an API and are never trusted markup
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_page(template: str, context: dict) -> str:
    return environment().get_template(template).render(**context)
