"""Write pages and manifests exactly in the landing layout (docs/architecture.md §2), without the fetch code.

The models' tests build their landing zones with these helpers, so they depend only on the documented
contract: pages are Kaiko response envelopes, `_manifest.json` marks a fetch complete.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR = timedelta(hours=1)
EXCHANGES = ("binc", "bbit", "okex", "drbt")
UNIT_FACTOR = {"ns": 1_000_000_000, "ms": 1_000, "s": 1}


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def week_monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def kaiko_row(hour: datetime, exchanges: dict[str, tuple[int, float, int, float]], unit: str = "ns") -> dict:
    """One data row as the API sends it: totals are the sums of the exchanges (long_trades, long_amount,
    short_trades, short_amount each)."""
    by_exchange = [
        {"exchange": code, "total_trades": lt + st, "total_amount": la + sa, "long_trades": lt,
         "long_amount": la, "short_trades": st, "short_amount": sa}
        for code, (lt, la, st, sa) in exchanges.items()
    ]
    long_trades = sum(e["long_trades"] for e in by_exchange)
    short_trades = sum(e["short_trades"] for e in by_exchange)
    long_amount = sum(e["long_amount"] for e in by_exchange)
    short_amount = sum(e["short_amount"] for e in by_exchange)
    return {
        "interval_time": iso_z(hour),
        "interval_timestamp": int(hour.timestamp()) * UNIT_FACTOR[unit],
        "total_trades": long_trades + short_trades,
        "total_amount": long_amount + short_amount,
        "long_trades": long_trades,
        "long_amount": long_amount,
        "short_trades": short_trades,
        "short_amount": short_amount,
        "exchanges": by_exchange,
    }


def synthetic_rows(asset: str, start: datetime, end: datetime, *, seed: int = 1, unit: str = "ns",
                   exchanges: tuple[str, ...] = EXCHANGES, skip_share: float = 0.1,
                   exchange_from: dict[str, datetime] | None = None) -> list[dict]:
    """Hourly rows over [start, end): some hours omitted (no events), exchanges only when they had events."""
    rng = random.Random(f"{seed}-{asset}-{start.isoformat()}")
    rows, hour = [], start
    while hour < end:
        if rng.random() >= skip_share:
            active = {}
            for code in exchanges:
                if exchange_from and code in exchange_from and hour < exchange_from[code]:
                    continue
                if rng.random() < 0.8:
                    lt, st = rng.randint(0, 40), rng.randint(0, 40)
                    if lt + st:
                        active[code] = (lt, lt * rng.uniform(100, 90_000), st, st * rng.uniform(100, 90_000))
            if active:
                rows.append(kaiko_row(hour, active, unit))
        hour += HOUR
    return rows


def fetch_dir(landing: Path, asset: str, window: str, fetch_id: str, interval: str = "1h") -> Path:
    return (landing / "liquidation_token" / f"asset={asset}" / f"interval={interval}" / f"window={window}"
            / f"fetch={fetch_id}")


def land_fetch(landing: Path, asset: str, start: datetime, end: datetime, rows: list[dict], *,
               fetch_id: str = "20250601T000000000000Z", window: str | None = None, interval: str = "1h",
               page_size: int = 1000, sort: str = "asc", source: str = "simulator", complete: bool = True,
               page_transform=None) -> Path:
    """Land one fetch of [start, end) as the fetcher would: pages in `sort` order, then the manifest."""
    ordered = sorted(rows, key=lambda row: row["interval_time"], reverse=(sort == "desc"))
    chunks = [ordered[i:i + page_size] for i in range(0, len(ordered), page_size)] or [[]]
    bodies = []
    for number, chunk in enumerate(chunks, start=1):
        envelope = {
            "query": {"start_time": iso_z(start), "end_time": iso_z(end), "page_size": page_size,
                      "sort": sort, "token": asset, "interval": interval, "data_version": "v1"},
            "answer_time": answer_time_of(fetch_id),
            "answer_timestamp": 0,
            "access": {"access_range": {"start_timestamp": None, "end_timestamp": None}},
            "data": chunk,
        }
        if number < len(chunks):
            envelope["continuation_token"] = f"token-{number}"
            envelope["next_url"] = f"http://127.0.0.1/v2/data/liquidation.v1/token/{asset}?continuation_token=x"
        if page_transform:
            envelope = page_transform(envelope)
        bodies.append(json.dumps(envelope).encode())
    return write_fetch(landing, asset, start, end, bodies, fetch_id=fetch_id, window=window,
                       interval=interval, page_size=page_size, sort=sort, source=source, complete=complete)


def answer_time_of(fetch_id: str) -> str:
    return f"{fetch_id[:4]}-{fetch_id[4:6]}-{fetch_id[6:8]}T{fetch_id[9:11]}:{fetch_id[11:13]}:00.000Z"


def write_fetch(landing: Path, asset: str, start: datetime, end: datetime, bodies: list[bytes], *,
                fetch_id: str, window: str | None = None, interval: str = "1h", page_size: int = 1000,
                sort: str = "asc", source: str = "simulator", complete: bool = True) -> Path:
    """Write raw page bodies, then (if complete) the manifest, in the documented folder."""
    window = window or week_monday(start).strftime("%Y-%m-%d")
    folder = fetch_dir(landing, asset, window, fetch_id, interval)
    folder.mkdir(parents=True, exist_ok=True)
    pages, row_count = [], 0
    for number, body in enumerate(bodies, start=1):
        name = f"page-{number:05d}.json"
        (folder / name).write_bytes(body)
        envelope = json.loads(body)
        rows = len(envelope.get("data") or [])
        row_count += rows
        pages.append({"file": name, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body),
                      "rows": rows, "answer_time": envelope.get("answer_time")})
    if complete:
        stamp = answer_time_of(fetch_id)[:19] + "Z"
        manifest = {
            "manifest_version": 1, "source": source, "endpoint": "liquidation.v1/token", "asset": asset,
            "interval": interval, "window": window, "fetch_id": fetch_id,
            "start_time": iso_z(start), "end_time": iso_z(end),
            "request": {"url": f"http://127.0.0.1/v2/data/liquidation.v1/token/{asset}",
                        "params": {"interval": interval, "page_size": page_size, "sort": sort,
                                   "start_time": iso_z(start), "end_time": iso_z(end)}},
            "fetched_at": stamp, "completed_at": stamp, "answer_time": pages[0]["answer_time"],
            "page_count": len(pages), "row_count": row_count, "pages": pages,
        }
        (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def land_from_api(session, base_url: str, landing: Path, asset: str, start: datetime, end: datetime, *,
                  fetch_id: str, sort: str = "asc", page_size: int = 1000, interval: str = "1h",
                  window: str | None = None, complete: bool = True) -> list[dict]:
    """GET one window from a Kaiko-compatible API (following next_url), land the bodies, return the rows."""
    url = f"{base_url}/v2/data/liquidation.v1/token/{asset}"
    params = {"interval": interval, "page_size": page_size, "sort": sort, "start_time": iso_z(start),
              "end_time": iso_z(end)}
    bodies, rows = [], []
    while url:
        with session.get(url, params=params, headers={"X-Api-Key": "anything"}, timeout=30) as response:
            response.raise_for_status()
            bodies.append(response.content)
            envelope = response.json()
        rows.extend(envelope["data"])
        url, params = envelope.get("next_url"), None
    write_fetch(landing, asset, start, end, bodies, fetch_id=fetch_id, window=window, interval=interval,
                page_size=page_size, sort=sort, complete=complete)
    return rows


def land_weeks(landing: Path, asset: str, start: datetime, end: datetime, rows: list[dict],
               **options) -> None:
    """Split [start, end) into ISO-week windows (clipped to the range) and land each as one fetch."""
    window_start = start
    while window_start < end:
        window_end = min(week_monday(window_start) + timedelta(days=7), end)
        inside = [row for row in rows if iso_z(window_start) <= row["interval_time"] < iso_z(window_end)]
        land_fetch(landing, asset, window_start, window_end, inside, **options)
        window_start = window_end


# The synthetic fixtures land weeks before the real endpoint's history (2025-01-08): an early history_start
# keeps them covered, as bench/scenarios.py does for its landed sets.
FIXTURE_HISTORY_START = "2000-01-01 00:00:00"


def model_variables(landing: Path, report_start: datetime, report_end: datetime) -> dict:
    return {"landing_path": landing.resolve().as_posix(),
            "report_start": report_start.strftime("%Y-%m-%d %H:%M:%S"),
            "report_end": report_end.strftime("%Y-%m-%d %H:%M:%S"),
            "history_start": FIXTURE_HISTORY_START}
