"""Fetch wall time against a slow simulator, by concurrency, against the true lower bound.

    .venv/bin/python -m bench.fetch_concurrency            4 assets × 8 weeks, 150 ms a request
    .venv/bin/python -m bench.fetch_concurrency --latency 0.05 --page-sizes 1000 --weeks 104

Each run lands into a fresh temporary folder, so nothing is skipped; the rate limit stays at the default,
which is what a user gets. The lower bound is physical: the fewest requests, ceil(hours ÷ page_size) an
asset, each waiting one latency, `threads` of them at once (bench.scenarios.fetch_lower_bound).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.scenarios import fetch_lower_bound
from report.fetch.fetcher import fetch_range
from report.settings import Settings
from report.simulator import DEMO_API_KEY, running_simulator

ASSETS = ("btc", "eth", "sol", "xrp")
START = datetime(2025, 2, 3, tzinfo=UTC)


def measure(base_url: str, concurrency: int, page_size: int, weeks: int, assets: tuple[str, ...]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(api_key=DEMO_API_KEY, base_url=base_url, assets=assets, output_dir=Path(folder),
                            concurrency=concurrency, page_size=page_size)
        summary = fetch_range(settings, START, START + timedelta(weeks=weeks), log=lambda _: None)
    return {"concurrency": concurrency, "page_size": page_size, "windows": summary.windows_fetched,
            "chains": summary.ranges, "requests": summary.requests, "minimum": summary.minimum_requests,
            "rows": summary.rows, "seconds": summary.seconds,
            "max_rps": settings.max_requests_per_second}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.15, help="simulator latency per request, seconds")
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--assets", type=int, default=len(ASSETS), help=f"1..{len(ASSETS)}")
    parser.add_argument("--concurrency", default=f"1,2,{Settings().concurrency}",
                        help="comma-separated thread counts (default: 1, 2, the default)")
    parser.add_argument("--page-sizes", default="1000,100", help="comma-separated page sizes")
    args = parser.parse_args(argv)
    levels = sorted({int(c) for c in args.concurrency.split(",")})
    page_sizes = [int(p) for p in args.page_sizes.split(",")]
    assets = ASSETS[:args.assets]
    defaults = Settings()
    print(f"{len(assets)} assets × {args.weeks} weeks, simulator latency {args.latency * 1000:g} ms, "
          f"rate limit {defaults.max_requests_per_second:g} req/s, "
          f"default concurrency {defaults.concurrency}")
    print(f"{'page_size':>9} {'threads':>7} {'windows':>7} {'chains':>6} {'requests':>8} {'minimum':>7} "
          f"{'rows':>6} {'seconds':>7} {'bound':>6} {'÷bound':>6}")
    with running_simulator(seed=7, latency_s=args.latency) as sim:
        for page_size in page_sizes:
            for level in levels:
                row = measure(sim.base_url, level, page_size, args.weeks, assets)
                bound = fetch_lower_bound(len(assets), args.weeks * 168, page_size, args.latency, level,
                                          row["max_rps"])
                print(f"{row['page_size']:>9} {row['concurrency']:>7} {row['windows']:>7} {row['chains']:>6} "
                      f"{row['requests']:>8} {bound['requests']:>7} {row['rows']:>6} {row['seconds']:>7.2f} "
                      f"{bound['seconds']:>6.2f} {row['seconds'] / bound['seconds']:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
