"""Shared fixtures: a running Kaiko simulator on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from report.simulator import DEMO_API_KEY, running_simulator

# A fixed "now" so that tests do not depend on the wall clock: data exists up to 2025-03-31T00:00Z.
SIMULATOR_NOW = datetime(2025, 3, 31, tzinfo=UTC)


@pytest.fixture
def simulator():
    """A simulator (seed 7, no latency, no faults, fixed now) serving at `simulator.base_url`."""
    with running_simulator(seed=7, now=SIMULATOR_NOW) as sim:
        yield sim


@pytest.fixture
def api_headers() -> dict:
    return {"X-Api-Key": DEMO_API_KEY, "Accept": "application/json"}


class RenderedReport:
    """A rendered report folder, parsed once: its settings, summary.json, report.html and its tree."""

    def __init__(self, settings, folder):
        import html5lib

        from report.periods import iso_week

        self.settings = settings
        self.folder = folder
        self.html = (folder / "report.html").read_text(encoding="utf-8")
        self.summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        self.tree = html5lib.parse(self.html)
        self.period = iso_week(self.summary["period"]["label"])


DEMO_WEEK = "2025-W18"  # 28 Apr – 4 May 2025: hours in which several assets crashed together, 12 weeks before


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory) -> RenderedReport:
    """The five demo assets and one the simulator serves no liquidations for, DEMO_WEEK and the 12 weeks
    before it landed from the simulator, built and rendered with the PDF: the report readers get."""
    from report import pipeline
    from report.periods import iso_week
    from report.settings import DEMO_ASSETS, Settings

    output = tmp_path_factory.mktemp("demo-week")
    week = iso_week(DEMO_WEEK)
    now = datetime(2025, 5, 12, tzinfo=UTC)
    with running_simulator(seed=7, now=now, empty_assets={"quiet"}) as simulator:
        settings = Settings(output_dir=output, assets=(*DEMO_ASSETS, "quiet"), base_url=simulator.base_url,
                            api_key=DEMO_API_KEY)
        pipeline.fetch(settings, week, log=lambda line: None)
    pipeline.build(settings, week, log=lambda line: None)
    path = pipeline.render(settings, week, pdf=True, log=lambda line: None)
    return RenderedReport(settings, path.parent)
