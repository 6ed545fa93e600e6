"""The liquidation endpoint's logic without HTTP: parameters and tokens in, Kaiko's envelope out."""

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

from report.simulator.data import HOUR_S, asset_exchanges, hourly_block

ASSET_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
INTERVAL = re.compile(r"^(?:([1-9]|1[0-9]|2[0-4])h|1d)$")
FIRST_CALL_PARAMS = {"interval", "page_size", "sort", "start_time", "end_time"}
DATA_PATH = "/v2/data/liquidation.v1/token/"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# As in the seed's example: the key's access range, in milliseconds.
ACCESS_RANGE_MS = (1688428800000, 2177539199000)
TIMESTAMP_FACTORS = {"ns": 10**9, "ms": 10**3, "s": 1}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Query:
    """Everything a continuation token carries: the first call's parameters and the next bucket."""

    asset: str
    interval: str
    page_size: int
    sort: str
    start_ms: int
    end_ms: int
    query_start_time: str
    query_end_time: str
    cursor_hour: int | None = None

    @property
    def interval_hours(self) -> int:
        return 24 if self.interval == "1d" else int(self.interval[:-1])


@dataclass(frozen=True)
class DataSource:
    """What the server knows at request time: the generator's seed and revision, and where data exists."""

    seed: int
    revision: int
    timestamp_unit: str
    data_start_hour: int
    now_hour: int
    empty: bool


def format_time(moment: datetime, millis: bool = False) -> str:
    moment = moment.astimezone(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_time(hour: int) -> str:
    return format_time(datetime.fromtimestamp(hour * HOUR_S, UTC))


def parse_time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, f"Invalid parameter '{name}': {value}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_first_call(asset: str, params: dict[str, str], now: datetime, data_start: datetime) -> Query:
    if not ASSET_CODE.match(asset):
        raise ApiError(400, f"Invalid parameter 'asset': {asset}")
    unknown = sorted(set(params) - FIRST_CALL_PARAMS)
    if unknown:
        raise ApiError(400, f"Invalid parameter '{unknown[0]}': unknown parameter")
    interval = params.get("interval", "1h")
    if not INTERVAL.match(interval):
        raise ApiError(400, f"Invalid parameter 'interval': {interval}")
    raw_size = params.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not re.fullmatch(r"\d{1,7}", raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise ApiError(400, f"Invalid parameter 'page_size': {raw_size} (must be 1 to {MAX_PAGE_SIZE})")
    sort = params.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, f"Invalid parameter 'sort': {sort} (must be asc or desc)")
    query_start = params.get("start_time") or format_time(data_start, millis=True)
    query_end = params.get("end_time") or format_time(now, millis=True)
    start, end = parse_time("start_time", query_start), parse_time("end_time", query_end)
    if end <= start:
        raise ApiError(400, f"Invalid parameters: end_time {query_end} is not after start_time {query_start}")
    return Query(asset, interval, int(raw_size), sort, _ms(start), _ms(end), query_start, query_end)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def encode_token(query: Query) -> str:
    raw = json.dumps(asdict(query), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(asset: str, token: str, params: dict[str, str]) -> Query:
    others = sorted(set(params) - {"continuation_token"})
    if others:
        raise ApiError(400, f"Invalid parameter '{others[0]}': not allowed with continuation_token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        query = Query(**json.loads(raw))
    except (binascii.Error, ValueError, TypeError):
        raise ApiError(400, "Invalid parameter 'continuation_token': malformed or expired token") from None
    if query.asset != asset or query.cursor_hour is None:
        raise ApiError(400, "Invalid parameter 'continuation_token': it does not belong to this query")
    return query


def aggregate(source: DataSource, asset: str, first_hour: int, end_hour: int, hours: int):
    """(bucket start hours, trades, amounts) for the aligned buckets starting in [first_hour, end_hour).

    Hours outside [data start, now) hold no data, so only buckets overlapping that span are computed.
    """
    exchanges = asset_exchanges(asset)
    low = max(math.ceil(first_hour / hours), source.data_start_hour // hours)
    high = min(math.ceil(end_hour / hours), math.ceil(source.now_hour / hours))
    if source.empty or high <= low:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(exchanges), 2)), np.zeros((0, len(exchanges), 2))
    block_start, block_end = low * hours, high * hours
    data_start, data_end = max(block_start, source.data_start_hour), min(block_end, source.now_hour)
    trades = np.zeros((block_end - block_start, len(exchanges), 2), dtype=np.int64)
    amounts = np.zeros((block_end - block_start, len(exchanges), 2))
    if data_end > data_start:
        block = hourly_block(source.seed, asset, data_start, data_end, source.revision)
        trades[data_start - block_start:data_end - block_start] = block[0]
        amounts[data_start - block_start:data_end - block_start] = block[1]
    shape = (high - low, hours, len(exchanges), 2)
    starts = np.arange(low, high, dtype=np.int64) * hours
    return starts, trades.reshape(shape).sum(axis=1), amounts.reshape(shape).sum(axis=1)


def _amount(value: float):
    return 0 if value == 0 else float(value)


def build_row(asset: str, bucket_hour: int, trades: np.ndarray, amounts: np.ndarray, unit: str) -> dict:
    """One data row: totals are the sums of the listed exchanges, which omit exchanges with no events."""
    exchanges = []
    for code, (long_trades, short_trades), (long_amount, short_amount) in zip(
            asset_exchanges(asset), trades.tolist(), amounts.tolist(), strict=True):
        if long_trades + short_trades == 0:
            continue
        exchanges.append({
            "exchange": code, "total_trades": long_trades + short_trades,
            "total_amount": _amount(long_amount + short_amount),
            "long_trades": long_trades, "long_amount": _amount(long_amount),
            "short_trades": short_trades, "short_amount": _amount(short_amount),
        })
    long_amount = sum(e["long_amount"] for e in exchanges)
    short_amount = sum(e["short_amount"] for e in exchanges)
    long_trades = sum(e["long_trades"] for e in exchanges)
    short_trades = sum(e["short_trades"] for e in exchanges)
    return {
        "interval_time": hour_time(bucket_hour),
        "interval_timestamp": bucket_hour * HOUR_S * TIMESTAMP_FACTORS[unit],
        "total_trades": long_trades + short_trades,
        "total_amount": _amount(sum(e["total_amount"] for e in exchanges)),
        "long_trades": long_trades, "long_amount": _amount(long_amount),
        "short_trades": short_trades, "short_amount": _amount(short_amount),
        "exchanges": exchanges,
    }


@dataclass(frozen=True)
class PageRows:
    """The data part of one page: its rows (shared: never mutate them) and where the chain goes on."""

    rows: tuple
    page_start: int  # epoch hours
    page_end: int
    data_start_hour: int
    data_end_hour: int
    next_cursor: int | None


@lru_cache(maxsize=256)
def page_rows(source: DataSource, query: Query) -> PageRows:
    """The rows of one page. Cached: the same query against the same data gets the same rows, so a server
    asked twice (a benchmark's warm-up, a re-fetch) costs only its latency the second time."""
    hours = query.interval_hours
    start_hour_exact = query.start_ms / 1000 / HOUR_S
    end_hour_exact = query.end_ms / 1000 / HOUR_S
    starts, trades, amounts = aggregate(source, query.asset, math.ceil(start_hour_exact),
                                        math.ceil(end_hour_exact), hours)
    nonempty = np.flatnonzero(trades.sum(axis=(1, 2)) > 0)
    if query.sort == "desc":
        nonempty = nonempty[::-1]
    if query.cursor_hour is not None:
        positions = starts[nonempty]
        keep = positions >= query.cursor_hour if query.sort == "asc" else positions <= query.cursor_hour
        nonempty = nonempty[keep]
    page, rest = nonempty[:query.page_size], nonempty[query.page_size:]
    unit = source.timestamp_unit
    rows = tuple(build_row(query.asset, int(starts[i]), trades[i], amounts[i], unit) for i in page)

    data_start_hour = math.floor(start_hour_exact / hours) * hours
    data_end_hour = math.ceil(end_hour_exact / hours) * hours
    if len(page):
        page_hours = sorted(int(starts[i]) for i in page)
        page_start, page_end = page_hours[0], page_hours[-1] + hours
    else:
        page_start, page_end = data_start_hour, data_end_hour
    return PageRows(rows, page_start, page_end, data_start_hour, data_end_hour,
                    int(starts[rest[0]]) if len(rest) else None)


def answer(source: DataSource, query: Query, base_url: str, request_time: datetime) -> dict:
    """One page of the envelope, with continuation_token and next_url unless it is the last page.

    `data` is the cached rows of page_rows, as a list: copy a row before changing it.
    """
    found = page_rows(source, query)
    page_start, page_end = found.page_start, found.page_end
    data_start_hour, data_end_hour = found.data_start_hour, found.data_end_hour
    answer_time = datetime.now(UTC)
    envelope = {
        "query": {
            "request_time": format_time(request_time, millis=True),
            "query_start_time": query.query_start_time,
            "query_end_time": query.query_end_time,
            "data_start_time": hour_time(data_start_hour),
            "data_end_time": hour_time(data_end_hour),
            "start_time": hour_time(page_start),
            "start_timestamp": page_start * HOUR_S * 1000,
            "end_time": hour_time(page_end),
            "end_timestamp": page_end * HOUR_S * 1000,
            "page_size": query.page_size,
            "sort": query.sort,
            "token": query.asset,
            "interval": query.interval,
            "commodity": "liquidationEvents",
            "data_version": "v1",
        },
        "answer_time": format_time(answer_time, millis=True),
        "answer_timestamp": _ms(answer_time),
        "access": {
            "access_range": {"start_timestamp": ACCESS_RANGE_MS[0], "end_timestamp": ACCESS_RANGE_MS[1]},
            "data_range": {"start_timestamp": None, "end_timestamp": None},
        },
        "data": list(found.rows),
    }
    if found.next_cursor is not None:
        token = encode_token(Query(**{**asdict(query), "cursor_hour": found.next_cursor}))
        envelope["continuation_token"] = token
        envelope["next_url"] = f"{base_url}{DATA_PATH}{query.asset}?continuation_token={token}"
    return envelope
