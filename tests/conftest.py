"""Shared fixtures: a running Kaiko simulator on loopback."""

from __future__ import annotations

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
