"""The simulator's prices: one path per (seed, asset), served as Kaiko's OHLCV aggregation of an instrument.

    GET /v2/data/trades.v1/exchanges/{exchange}/{instrument_class}/{instrument}/aggregations/ohlcv
        ?interval=1h&start_time=…&end_time=…&page_size=…&sort=…   (or ?continuation_token=…)

The path is the one that drives the liquidations (data.market_week): each hour's log return is the hour's
standardized shock times its GARCH volatility, so a falling hour is the hour longs get liquidated, a rising
one shorts, and a cascade (a burst of one-sided liquidations) pushes the price its way and overshoots,
widening the hour's high–low range. Within an hour the price walks minute by minute (a Brownian bridge
from the hour's open to its close), so every interval from 1m to 1d aggregates the same minutes. Levels
chain week to week from ANCHOR_PRICE at ANCHOR_WEEK; every instrument of an asset (any exchange, spot or
perpetual) shows the same path. Prices are never revised (the liquidations' `revision` leaves them alone).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from report.simulator.api import ApiError, format_time, parse_time
from report.simulator.data import (
    HOUR_S,
    WEEK_HOURS,
    activity_cycle,
    asset_exchanges,
    market_week,
    stable_hash,
    week_index,
    week_start_hour,
)

OHLCV_PATH = re.compile(r"^/v2/data/trades\.v1/exchanges/([^/]+)/([^/]+)/([^/]+)/aggregations/ohlcv$")
FIRST_CALL_PARAMS = {"interval", "page_size", "sort", "start_time", "end_time"}
INTERVAL = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_INTERVAL = "1d"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100_000
MINUTE_MS = 60_000
WEEK_MINUTES = WEEK_HOURS * 60
# What the simulator lists: spot and perpetual pairs `{asset}-{quote}` on the exchanges that list the asset.
LISTED_CLASSES = ("perpetual-future", "spot")
LISTED_QUOTES = ("usdt", "usdc", "usd")
INSTRUMENT_CODE = re.compile(r"^([a-z0-9][a-z0-9_]{0,31})-(usdt|usdc|usd)$")
# The key's access range in seconds (other Kaiko endpoints send seconds in `access`).
ACCESS_RANGE_S = (1262304000, 2177539199)

# The price at the first hour of the anchor week (Monday 2025-01-06), the long-run hourly volatility, and
# the typical volume an hour, in the asset's own units. Unknown assets get hash-derived ones.
ANCHOR_WEEK = week_index(int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) // HOUR_S)
ANCHOR_PRICE = {"btc": 94_000.0, "eth": 3_600.0, "sol": 210.0, "xrp": 2.4, "doge": 0.38}
HOURLY_VOLATILITY = {"btc": 0.005, "eth": 0.007, "sol": 0.01, "xrp": 0.009, "doge": 0.01}
HOURLY_VOLUME = {"btc": 8_000.0, "eth": 120_000.0, "sol": 600_000.0, "xrp": 40e6, "doge": 250e6}
HOURLY_VOLUME_USD_UNKNOWN = 20e6
# How far a cascade moves the hour's price, in hourly volatilities per √(cascade level): a typical cascade
# (level 8–20) moves it 1.4–2.2 volatilities, so hourly long-minus-short USD and returns correlate at about
# −0.4, as in real markets where the forced orders are what moves the price.
CASCADE_IMPACT = 0.5


@dataclass(frozen=True)
class PriceOptions:
    """What the OHLCV route knows beyond the seed: who may read trade data, and when nothing traded.

    `no_access_keys` and `no_access_instruments` ("binc/perpetual-future/btc-usdt") answer 403, as Kaiko
    does for a key whose subscription has no trade data; `halts` are [start, end) spans with no trades
    on any instrument (rows with null prices and volume "0"); nothing trades before `listed_from`.
    """

    no_access_keys: frozenset[str] = frozenset({"no-trades-key"})
    no_access_instruments: frozenset[str] = frozenset()
    halts: tuple[tuple[datetime, datetime], ...] = ()
    listed_from: datetime = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class OhlcvQuery:
    """What a continuation token carries: the instrument, the first call's parameters, the next bucket."""

    exchange: str
    instrument_class: str
    instrument: str
    interval: str
    page_size: int
    sort: str
    start_ms: int
    end_ms: int
    query_start_time: str
    query_end_time: str
    cursor: int | None = None  # index of the next bucket (bucket start = index × interval)

    @property
    def instrument_path(self) -> str:
        return f"{self.exchange}/{self.instrument_class}/{self.instrument}"

    @property
    def step_minutes(self) -> int:
        number, unit = INTERVAL.match(self.interval).groups()
        return int(number) * UNIT_SECONDS[unit] // 60


# --- the path --------------------------------------------------------------------------------------


def asset_profile(asset: str) -> tuple[float, float, float]:
    """(anchor price, hourly volatility, hourly volume in units)."""
    if asset in ANCHOR_PRICE:
        return ANCHOR_PRICE[asset], HOURLY_VOLATILITY[asset], HOURLY_VOLUME[asset]
    fraction = (stable_hash("price", asset) % 10_000) / 10_000
    price = 10 ** (-2 + 5 * fraction)  # 0.01 to 1,000
    return price, 0.008 + 0.006 * fraction, HOURLY_VOLUME_USD_UNKNOWN / price


def hourly_log_returns(seed: int, asset: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(log returns, volatility) of the week's 168 hours: the liquidations' shocks at their GARCH scale,
    plus the push of a cascade's forced selling (longs liquidated) or buying (shorts) in its direction."""
    market = market_week(seed, asset, index)
    volatility = asset_profile(asset)[1] * np.sqrt(market.variance)
    direction = np.where(market.cascade_long_share > 0.5, -1.0, 1.0)
    return volatility * (market.shocks + CASCADE_IMPACT * direction * np.sqrt(market.cascade)), volatility


@lru_cache(maxsize=65536)
def week_log_return(seed: int, asset: str, index: int) -> float:
    return float(hourly_log_returns(seed, asset, index)[0].sum())


def week_open_log_price(seed: int, asset: str, index: int) -> float:
    """The log price at the week's first hour, chained from the anchor week through every week between."""
    if index >= ANCHOR_WEEK:
        change = sum(week_log_return(seed, asset, week) for week in range(ANCHOR_WEEK, index))
    else:
        change = -sum(week_log_return(seed, asset, week) for week in range(index, ANCHOR_WEEK))
    return math.log(asset_profile(asset)[0]) + change


@lru_cache(maxsize=16)
def minute_week(seed: int, asset: str, index: int) -> np.ndarray:
    """(5 fields: open, high, low, close, volume; 10,080 minutes) for one ISO week, prices in quote units."""
    market = market_week(seed, asset, index)
    returns, volatility = hourly_log_returns(seed, asset, index)
    _, _, hourly_volume = asset_profile(asset)
    rng = np.random.default_rng(stable_hash(seed, asset, index, "minutes"))
    opens = week_open_log_price(seed, asset, index) + np.concatenate(([0.0], np.cumsum(returns)[:-1]))

    minute_volatility = (volatility / np.sqrt(60))[:, None]
    walk = np.cumsum(rng.standard_normal((WEEK_HOURS, 60)) * minute_volatility, axis=1)
    fraction = np.arange(1, 61) / 60
    # A Brownian bridge: free within the hour, pinned to the hour's open and to open + return at its end.
    closes = opens[:, None] + fraction * (returns[:, None] - walk[:, -1:]) + walk
    closes[:, -1] = opens + returns
    minute_opens = np.concatenate((opens[:, None], closes[:, :-1]), axis=1)
    wicks = np.abs(rng.standard_normal((2, WEEK_HOURS, 60))) * 0.3 * minute_volatility
    highs = np.maximum(minute_opens, closes) + wicks[0]
    lows = np.minimum(minute_opens, closes) - wicks[1]
    # A cascade is forced selling (longs) or buying (shorts): one minute of the hour overshoots its way.
    depth = 0.35 * volatility * np.sqrt(market.cascade)
    minute = rng.integers(0, 60, WEEK_HOURS)
    hours = np.arange(WEEK_HOURS)
    longs = market.cascade_long_share > 0.5
    lows[hours, minute] -= np.where(longs, depth, 0.0)
    highs[hours, minute] += np.where(longs, 0.0, depth)

    epoch_hours = week_start_hour(index) + hours
    volume = (hourly_volume * activity_cycle(epoch_hours) * np.sqrt(market.variance)
              * (1 + 0.6 * np.abs(market.shocks)) * (1 + 0.2 * market.cascade)
              * rng.lognormal(0.0, 0.25, WEEK_HOURS))
    weights = rng.gamma(2.0, 1.0, (WEEK_HOURS, 60))
    volumes = volume[:, None] * weights / weights.sum(axis=1, keepdims=True)
    fields = np.stack([np.exp(minute_opens), np.exp(highs), np.exp(lows), np.exp(closes), volumes])
    return fields.reshape(5, WEEK_MINUTES)


@lru_cache(maxsize=4096)
def hour_week(seed: int, asset: str, index: int) -> np.ndarray:
    """(5 fields, 168 hours): the week's minutes aggregated to hours, without halts."""
    return aggregate_fields(minute_week(seed, asset, index), 60)


def aggregate_fields(fields: np.ndarray, size: int) -> np.ndarray:
    """(5, n × size) bars → (5, n) bars of `size` each; a bar with no trades (NaN prices) is skipped
    within a bucket, and a bucket with none is NaN with volume 0."""
    opens, highs, lows, closes, volumes = (field.reshape(-1, size) for field in fields)
    traded = ~np.isnan(opens)
    first = np.argmax(traded, axis=1)
    last = size - 1 - np.argmax(traded[:, ::-1], axis=1)
    rows = np.arange(len(opens))
    any_trade = traded.any(axis=1)
    return np.stack([
        np.where(any_trade, opens[rows, first], np.nan),
        np.fmax.reduce(highs, axis=1),
        np.fmin.reduce(lows, axis=1),
        np.where(any_trade, closes[rows, last], np.nan),
        volumes.sum(axis=1),
    ])


def _gather(week_fields, per_week: int, first: int, end: int) -> np.ndarray:
    """(5, end - first) from the weekly arrays of `per_week` units, for units [first, end) since the epoch."""
    fields = np.empty((5, max(end - first, 0)))
    position = first
    while position < end:
        index = week_index(position * WEEK_HOURS // per_week)
        start = week_start_hour(index) * per_week // WEEK_HOURS
        stop = min(start + per_week, end)
        fields[:, position - first:stop - first] = week_fields(index)[:, position - start:stop - start]
        position = stop
    return fields


def bars(seed: int, asset: str, first_bucket: int, count: int, step_minutes: int,
         options: PriceOptions) -> np.ndarray:
    """(5, count) bars of `step_minutes` starting at minute first_bucket × step_minutes since the epoch."""
    first_minute, end_minute = first_bucket * step_minutes, (first_bucket + count) * step_minutes
    halted = _halted_minutes(options, first_minute, end_minute)
    if step_minutes % 60 == 0 and not halted.any():
        hours = _gather(lambda index: hour_week(seed, asset, index), WEEK_HOURS,
                        first_minute // 60, end_minute // 60)
        return aggregate_fields(hours, step_minutes // 60)
    minutes = _gather(lambda index: minute_week(seed, asset, index), WEEK_MINUTES, first_minute, end_minute)
    minutes[:4, halted] = np.nan
    minutes[4, halted] = 0.0
    return aggregate_fields(minutes, step_minutes)


def _halted_minutes(options: PriceOptions, first_minute: int, end_minute: int) -> np.ndarray:
    halted = np.zeros(end_minute - first_minute, dtype=bool)
    for start, end in options.halts:
        low = max(math.floor(start.timestamp() / 60), first_minute) - first_minute
        high = min(math.ceil(end.timestamp() / 60), end_minute) - first_minute
        if high > low:
            halted[low:high] = True
    return halted


# --- the route -------------------------------------------------------------------------------------


def listed_asset(exchange: str, instrument_class: str, instrument: str) -> str:
    """The asset an instrument trades, or a 404 when the simulator does not list it."""
    match = INSTRUMENT_CODE.match(instrument)
    if instrument_class not in LISTED_CLASSES or not match or exchange not in asset_exchanges(match.group(1)):
        raise ApiError(404, f"Instrument not found: {exchange}/{instrument_class}/{instrument}")
    return match.group(1)


def check_access(options: PriceOptions, api_key: str, instrument_path: str) -> None:
    if api_key in options.no_access_keys or instrument_path in options.no_access_instruments:
        raise ApiError(403, f"Access denied: your API key has no access to trades.v1 data for "
                            f"{instrument_path}; contact Kaiko to extend your subscription.")


def parse_interval(interval: str) -> str:
    match = INTERVAL.match(interval)
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)] if match else 0
    if not match or seconds > 86400:
        raise ApiError(400, f"Invalid parameter 'interval': {interval} (use s, m, h or d, at most 1d)")
    if seconds % 60:
        raise ApiError(400, f"Invalid parameter 'interval': {interval} (the simulator resolves trades to the "
                            "minute: use a whole number of minutes)")
    return interval


def parse_first_call(instrument: tuple[str, str, str], params: dict[str, str], now: datetime,
                     options: PriceOptions) -> OhlcvQuery:
    unknown = sorted(set(params) - FIRST_CALL_PARAMS)
    if unknown:
        raise ApiError(400, f"Invalid parameter '{unknown[0]}': unknown parameter")
    interval = parse_interval(params.get("interval", DEFAULT_INTERVAL))
    raw_size = params.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not re.fullmatch(r"\d{1,7}", raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise ApiError(400, f"Invalid parameter 'page_size': {raw_size} (must be 1 to {MAX_PAGE_SIZE})")
    sort = params.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, f"Invalid parameter 'sort': {sort} (must be asc or desc)")
    query_start = params.get("start_time") or format_time(options.listed_from, millis=True)
    query_end = params.get("end_time") or format_time(now, millis=True)
    start, end = parse_time("start_time", query_start), parse_time("end_time", query_end)
    if end <= start:
        raise ApiError(400, f"Invalid parameters: end_time {query_end} is not after start_time {query_start}")
    return OhlcvQuery(*instrument, interval, int(raw_size), sort, round(start.timestamp() * 1000),
                      round(end.timestamp() * 1000), query_start, query_end)


def encode_token(query: OhlcvQuery) -> str:
    raw = json.dumps(asdict(query), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(instrument: tuple[str, str, str], token: str, params: dict[str, str]) -> OhlcvQuery:
    others = sorted(set(params) - {"continuation_token"})
    if others:
        raise ApiError(400, f"Invalid parameter '{others[0]}': not allowed with continuation_token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        query = OhlcvQuery(**json.loads(raw))
        parse_interval(query.interval)
    except (binascii.Error, ValueError, TypeError, ApiError):
        raise ApiError(400, "Invalid parameter 'continuation_token': malformed or expired token") from None
    if (query.exchange, query.instrument_class, query.instrument) != instrument or query.cursor is None:
        raise ApiError(400, "Invalid parameter 'continuation_token': it does not belong to this query")
    return query


def served_buckets(query: OhlcvQuery, now: datetime, options: PriceOptions) -> range:
    """Bucket indices with start in [start_time, end_time), on or after the listing, and over by `now`.

    Every such bucket is a row (null prices when nothing traded), so pages are plain slices of this range.
    """
    step_ms = query.step_minutes * MINUTE_MS
    listed_ms = round(options.listed_from.timestamp() * 1000)
    low = max(-(-query.start_ms // step_ms), -(-listed_ms // step_ms))
    high = min(-(-query.end_ms // step_ms), round(now.timestamp() * 1000) // step_ms)
    return range(low, max(high, low))


def price_decimals(asset: str) -> int:
    """Quote precision from the asset's anchor price: six significant digits, as exchanges tick."""
    return max(0, 5 - math.floor(math.log10(asset_profile(asset)[0])))


def build_rows(asset: str, first_bucket: int, fields: np.ndarray, step_minutes: int) -> list[dict]:
    decimals = price_decimals(asset)

    def price(value: float) -> str | None:
        return None if math.isnan(value) else f"{value:.{decimals}f}"

    rows = []
    for offset, (open_, high, low, close, volume) in enumerate(fields.T.tolist()):
        rows.append({
            "timestamp": (first_bucket + offset) * step_minutes * MINUTE_MS,
            "open": price(open_), "high": price(high), "low": price(low), "close": price(close),
            "volume": "0" if volume == 0 else f"{volume:.4f}",
        })
    return rows


def answer(options: PriceOptions, seed: int, instrument: tuple[str, str, str], params: dict[str, str],
           api_key: str, base_url: str, request_time: datetime, now: datetime) -> dict:
    """One page of the OHLCV envelope, with continuation_token and next_url unless it is the last page."""
    asset = listed_asset(*instrument)
    check_access(options, api_key, "/".join(instrument))
    if "continuation_token" in params:
        query = decode_token(instrument, params["continuation_token"], params)
    else:
        query = parse_first_call(instrument, params, now, options)
    buckets = served_buckets(query, now, options)
    if query.sort == "asc":
        cursor = buckets.start if query.cursor is None else query.cursor
        page = range(max(cursor, buckets.start), min(cursor + query.page_size, buckets.stop))
        next_cursor = page.stop if page.stop < buckets.stop else None
    else:
        cursor = buckets.stop - 1 if query.cursor is None else query.cursor
        page = range(max(cursor - query.page_size + 1, buckets.start), min(cursor + 1, buckets.stop))
        next_cursor = page.start - 1 if page.start > buckets.start else None
    fields = bars(seed, asset, page.start, len(page), query.step_minutes, options)
    rows = build_rows(asset, page.start, fields, query.step_minutes)
    if query.sort == "desc":
        rows.reverse()
    answered = datetime.now(UTC)
    envelope = {
        "query": {
            "exchange": query.exchange, "instrument_class": query.instrument_class,
            "instrument": query.instrument, "interval": query.interval, "sort": query.sort,
            "aggregation": "ohlcv", "data_version": "v1", "commodity": "trades",
            "request_time": format_time(request_time, millis=True),
            "start_time": query.query_start_time, "end_time": query.query_end_time,
            "page_size": query.page_size,
        },
        "time": format_time(answered, millis=True),
        "timestamp": round(answered.timestamp() * 1000),
        "data": rows,
        "result": "success",
    }
    if next_cursor is not None:
        token = encode_token(OhlcvQuery(**{**asdict(query), "cursor": next_cursor}))
        envelope["continuation_token"] = token
        envelope["next_url"] = (f"{base_url}/v2/data/trades.v1/exchanges/{query.instrument_path}"
                                f"/aggregations/ohlcv?continuation_token={token}")
    envelope["access"] = {
        "access_range": {"start_timestamp": ACCESS_RANGE_S[0], "end_timestamp": ACCESS_RANGE_S[1]},
        "data_range": {"start_timestamp": round(options.listed_from.timestamp()), "end_timestamp": None},
    }
    return envelope
