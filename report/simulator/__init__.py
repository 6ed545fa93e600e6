"""A Kaiko-compatible token-level liquidation API (and OHLCV of instruments, prices.py) on loopback.

    with running_simulator(seed=7) as sim:
        requests.get(f"{sim.base_url}/v2/data/liquidation.v1/token/btc",
                     params={"start_time": "2025-02-03T00:00:00Z", "end_time": "2025-02-10T00:00:00Z"},
                     headers={"X-Api-Key": DEMO_API_KEY})

It mirrors the endpoint documented at docs.kaiko.com (envelope, pagination by continuation token,
JSON errors) and serves deterministic data from (seed, asset, hour, exchange, revision).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from report.errors import ConfigError
from report.simulator.prices import PriceOptions
from report.simulator.server import IDENTITY_HEADER, FaultPlan, SimulatorServer

__all__ = ["DEMO_API_KEY", "IDENTITY_HEADER", "FaultPlan", "PriceOptions", "SimulatorServer",
           "running_simulator", "serve_cli"]

DEMO_API_KEY = "demo-key"


@contextlib.contextmanager
def running_simulator(seed: int = 7, latency_s: float = 0.0, faults: FaultPlan | None = None,
                      timestamp_unit: str = "ns", data_start: datetime = datetime(2025, 1, 8, tzinfo=UTC),
                      revision: int = 0, empty_assets: Iterable[str] = frozenset(),
                      api_key: str | None = None, now: datetime | None = None,
                      exchange_codes: dict[str, str] | None = None,
                      price_options: PriceOptions | None = None) -> Iterator[SimulatorServer]:
    """Serve on a free loopback port in a background thread; shut down and close every socket on exit."""
    server = SimulatorServer(0, seed=seed, latency_s=latency_s, faults=faults, timestamp_unit=timestamp_unit,
                             data_start=data_start, revision=revision, empty_assets=empty_assets,
                             api_key=api_key, now=now, exchange_codes=exchange_codes,
                             price_options=price_options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="kaiko-simulator", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()


def serve_cli(port: int, seed: int, latency_ms: float, fault_rate: float, log: Callable[[str], None]) -> int:
    """`liqreport simulate`: serve on 127.0.0.1:<port> until Ctrl-C."""
    if not 0 <= fault_rate <= 1:
        raise ConfigError(f"--fault-rate must be between 0 and 1, got {fault_rate:g}.")
    if not (math.isfinite(latency_ms) and 0 <= latency_ms <= 60_000):
        raise ConfigError(f"--latency-ms must be from 0 to 60000, got {latency_ms:g}.")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535 (0: any free port), got {port}.")
    try:
        server = SimulatorServer(port, seed=seed, latency_s=latency_ms / 1000,
                                 faults=FaultPlan(rate=fault_rate))
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pass another --port, "
                          "or --port 0 for any free one.") from None
    with server:
        log(f"Kaiko simulator at {server.base_url} (seed {seed}, latency {latency_ms:g} ms, fault rate "
            f"{fault_rate:g}); any non-empty X-Api-Key works, e.g. {DEMO_API_KEY}. Ctrl-C to stop.")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            log("Simulator stopped.")
        finally:
            server.close_connections(timeout_s=1.0)
    return 0
