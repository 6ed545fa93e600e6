"""Price pages and manifests exactly in the landing layout (docs/architecture.md §2, "Price pages"),
without fetch code: the price models' tests build their landing zones with these, as landing_fixtures does
for the liquidation pages.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from landing_fixtures import answer_time_of, iso_z, week_monday

BTC_PERP = ("binc", "perpetual-future", "btc-usdt")
WEEK = timedelta(weeks=1)
_fetch_numbers = itertools.count(1)


def next_fetch_id() -> str:
    """A new fetch id, later than the one before (one folder a fetch, as the fetch names them)."""
    return f"20250601T000000{next(_fetch_numbers):06d}Z"


def ohlcv_row(hour: datetime, bar: tuple[float, float, float, float] | None, volume: float = 10.5) -> dict:
    """One row as Kaiko sends it: millisecond timestamp, prices and volume as strings, null prices and
    volume "0" when nothing traded (bar None)."""
    prices = dict(zip(("open", "high", "low", "close"), (None,) * 4 if bar is None else map(repr, bar),
                      strict=True))
    volume_text = "0" if bar is None else repr(volume)
    return {"timestamp": int(hour.timestamp()) * 1000, **prices, "volume": volume_text}


def price_fetch_dir(landing: Path, asset: str, fetch_id: str, interval: str = "1h") -> Path:
    return landing / "trades_ohlcv" / f"asset={asset}" / f"interval={interval}" / f"fetch={fetch_id}"


def land_price_fetch(landing: Path, asset: str, start: datetime, end: datetime, rows: list[dict], *,
                     instrument: tuple[str, str, str] = BTC_PERP, fetch_id: str | None = None,
                     window: str | None = None, page_size: int = 1000, complete: bool = True) -> Path:
    """Land one fetch of [start, end) as the fetch would: envelopes in ascending pages, then the manifest."""
    fetch_id = fetch_id or next_fetch_id()
    ordered = sorted(rows, key=lambda row: row["timestamp"])
    chunks = [ordered[i:i + page_size] for i in range(0, len(ordered), page_size)] or [[]]
    bodies = []
    for number, chunk in enumerate(chunks, start=1):
        exchange, instrument_class, code = instrument
        envelope = {
            "query": {"exchange": exchange, "instrument_class": instrument_class, "instrument": code,
                      "interval": "1h", "sort": "asc", "aggregation": "ohlcv", "data_version": "v1",
                      "commodity": "trades", "start_time": iso_z(start), "end_time": iso_z(end)},
            "time": answer_time_of(fetch_id), "timestamp": 0, "data": chunk, "result": "success",
        }
        if number < len(chunks):
            envelope["continuation_token"] = f"token-{number}"
            envelope["next_url"] = "http://127.0.0.1/v2/data/trades.v1/exchanges/x?continuation_token=x"
        bodies.append(json.dumps(envelope).encode())
    return write_price_fetch(landing, asset, start, end, bodies, instrument=instrument, fetch_id=fetch_id,
                             window=window, page_size=page_size, complete=complete)


def write_price_fetch(landing: Path, asset: str, start: datetime, end: datetime, bodies: list[bytes], *,
                      instrument: tuple[str, str, str] = BTC_PERP, fetch_id: str | None = None,
                      window: str | None = None,
                      page_size: int = 1000, complete: bool = True, outcome: str = "landed",
                      message: str | None = None) -> Path:
    """One fetch of [start, end) in the version 3 layout (architecture §2): every ISO week the range touches
    is a window, clipped to the range, with its rows and the pages holding them (`window`: one window of
    that label for the whole range instead). A no-access record lists no pages and no windows."""
    fetch_id = fetch_id or next_fetch_id()
    folder = price_fetch_dir(landing, asset, fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    pages, row_count, page_rows = [], 0, {}
    for number, body in enumerate(bodies, start=1):
        name = f"page-{number:05d}.json"
        (folder / name).write_bytes(body)
        data = json.loads(body).get("data") or []
        page_rows[name] = [datetime.fromtimestamp(row["timestamp"] / 1000, UTC) for row in data]
        row_count += len(data)
        pages.append({"file": name, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body),
                      "rows": len(data), "answer_time": json.loads(body).get("time")})
    windows = []
    spans = [(window, start, end)] if window else []
    monday = week_monday(start)
    while not window and monday < end:
        spans.append((monday.strftime("%Y-%m-%d"), max(monday, start), min(monday + WEEK, end)))
        monday += WEEK
    for label, span_start, span_end in spans if outcome == "landed" else []:
        inside = {name: sum(span_start <= hour < span_end for hour in hours)
                  for name, hours in page_rows.items()}
        windows.append({"window": label, "start_time": iso_z(span_start), "end_time": iso_z(span_end),
                        "rows": sum(inside.values()),
                        "pages": [name for name, rows in inside.items() if rows]})
    if complete:
        exchange, instrument_class, code = instrument
        stamp = answer_time_of(fetch_id)[:19] + "Z"
        url = f"http://127.0.0.1/v2/data/trades.v1/exchanges/{exchange}/{instrument_class}/{code}/aggregations/ohlcv"
        manifest = {
            "manifest_version": 3, "source": "simulator", "api_root": "builtin-simulator",
            "endpoint": "trades.v1/aggregations/ohlcv",
            "asset": asset, "exchange": exchange, "instrument_class": instrument_class, "instrument": code,
            "interval": "1h", "fetch_id": fetch_id, "start_time": iso_z(start), "end_time": iso_z(end),
            "outcome": outcome,
            "request": {"url": url, "params": {"interval": "1h", "page_size": page_size, "sort": "asc",
                                               "start_time": iso_z(start), "end_time": iso_z(end)}},
            "fetched_at": stamp, "completed_at": stamp,
            "answer_time": pages[0]["answer_time"] if pages else None,
            "page_count": len(pages), "row_count": row_count, "pages": pages, "windows": windows,
            "complete": True, "error": None,
        }
        if message is not None:
            manifest["message"] = message
        (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def land_no_access(landing: Path, asset: str, start: datetime, end: datetime, *,
                   instrument: tuple[str, str, str] = BTC_PERP, fetch_id: str | None = None,
                   message: str = "Access denied: no trade data for this key.") -> Path:
    """The status record a 403 leaves (architecture §2): a manifest without pages, outcome no_access."""
    return write_price_fetch(landing, asset, start, end, [], instrument=instrument, fetch_id=fetch_id,
                             outcome="no_access", message=message)


def land_price_from_api(session, base_url: str, landing: Path, asset: str, instrument: tuple[str, str, str],
                        start: datetime, end: datetime, *, fetch_id: str,
                        page_size: int = 1000) -> list[dict]:
    """GET one window of hourly OHLCV from a Kaiko-compatible API (following next_url), land it,
    return the rows."""
    fetch_id = fetch_id or next_fetch_id()
    url = f"{base_url}/v2/data/trades.v1/exchanges/{'/'.join(instrument)}/aggregations/ohlcv"
    params = {"interval": "1h", "page_size": page_size, "sort": "asc", "start_time": iso_z(start),
              "end_time": iso_z(end)}
    bodies, rows = [], []
    while url:
        with session.get(url, params=params, headers={"X-Api-Key": "anything"}, timeout=30) as response:
            response.raise_for_status()
            bodies.append(response.content)
            envelope = response.json()
        rows.extend(envelope["data"])
        url, params = envelope.get("next_url"), None
    write_price_fetch(landing, asset, start, end, bodies, instrument=instrument, fetch_id=fetch_id,
                      page_size=page_size)
    return rows


def price_instruments(instruments: dict[str, tuple[str, str, str]]) -> str:
    """The run variable `price_instruments` (architecture §3): "btc=binc/perpetual-future/btc-usdt,…"."""
    return ",".join(f"{asset}={'/'.join(codes)}" for asset, codes in instruments.items())


def land_simulated_prices(settings, base_url: str, start: datetime, end: datetime, *,
                          fetch_id: str | None = None, page_size: int = 1000) -> dict:
    """Land hourly OHLCV of each asset's reference instrument (settings.price) for every ISO week in
    [start, end), one fetch a week, as the price fetch will; a 403 lands the no-access record of that week
    and of every later one (without asking again). Returns {asset: rows landed} (no entry for an asset
    without an instrument or without access)."""
    import requests

    landed: dict[str, list[dict]] = {}
    with requests.Session() as session:
        for asset in settings.assets:
            entry = settings.price.instrument_for(asset)
            if entry is None:
                continue
            instrument = (entry.exchange, entry.instrument_class, entry.instrument)
            monday, refusal = week_monday(start), None
            while monday < end:
                window_start, window_end = max(monday, start), min(monday + WEEK, end)
                if refusal is None:
                    try:
                        rows = land_price_from_api(session, base_url, settings.landing_dir, asset, instrument,
                                                   window_start, window_end, fetch_id=fetch_id,
                                                   page_size=page_size)
                        landed.setdefault(asset, []).extend(rows)
                    except requests.HTTPError as error:
                        if error.response.status_code != 403:
                            raise
                        refusal = error.response.json()["message"]
                if refusal is not None:
                    land_no_access(settings.landing_dir, asset, window_start, window_end,
                                   instrument=instrument, fetch_id=fetch_id, message=refusal)
                monday += WEEK
    return landed
