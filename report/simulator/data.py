"""Deterministic, realistic-looking hourly liquidation data for the simulator.

One ISO week of hourly data is generated at a time per (seed, asset, week) and cached, so a given hour has
the same numbers whatever page, sort, page size or interval asks for it. The shape mimics real markets:
a GARCH-like volatility process makes bursts cluster in time, cascades make the busiest hours carry a
large share of the volume, the sign of the price move decides whether longs or shorts get liquidated,
and event sizes are heavy-tailed (lognormal body, Pareto tail).

The week's market path (`market_week`: standardized hourly returns, their GARCH variance, cascades and the
price trend) is shared with prices.py, which turns the same hours into the OHLCV route's prices: the demo's
liquidations and prices come from one path, so their relationship is the one the liquidations were drawn from.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np

HOUR_S = 3600
WEEK_HOURS = 168
# 1970-01-01 was a Thursday: ISO weeks start 72 hours before each multiple of 168 epoch hours + 96.
FIRST_MONDAY_HOUR = 96

EXCHANGES = ("bbit", "bfnx", "binc", "cbse", "drbt", "hbdm", "krkn", "okex")  # alphabetical = output order
EXCHANGE_SHARES = {"binc": 0.38, "bbit": 0.27, "okex": 0.17, "hbdm": 0.06, "drbt": 0.04, "cbse": 0.04,
                   "bfnx": 0.02, "krkn": 0.02}
MAJOR_EXCHANGES = ("bbit", "binc", "hbdm", "okex")
MINOR_EXCHANGES_BY_ASSET = {
    "btc": ("bfnx", "cbse", "drbt", "krkn"),
    "eth": ("bfnx", "cbse", "drbt", "krkn"),
    "sol": ("cbse", "drbt", "krkn"),
    "xrp": ("bfnx", "cbse", "krkn"),
    "doge": ("cbse", "krkn"),
}
# Typical USD liquidated per day, and the median single liquidation in USD.
DAILY_USD = {"btc": 60e6, "eth": 40e6, "sol": 12e6, "xrp": 6e6, "doge": 4e6}
MEDIAN_EVENT_USD = {"btc": 6000.0, "eth": 4000.0, "sol": 2000.0, "xrp": 1500.0, "doge": 1200.0}

HBDM_START_HOUR = int(datetime(2025, 6, 18, 12, tzinfo=UTC).timestamp()) // HOUR_S

# Event sizes: lognormal body; a share of events come from a Pareto tail starting at TAIL_SCALE x median.
BODY_SIGMA = 1.1
TAIL_SHARE = 0.04
TAIL_SCALE = 10.0
TAIL_ALPHA = 1.8
MEAN_EVENT_OVER_MEDIAN = (1 - TAIL_SHARE) * np.exp(BODY_SIGMA**2 / 2) + TAIL_SHARE * TAIL_SCALE * (
    TAIL_ALPHA / (TAIL_ALPHA - 1))
# The intensity multiplier (volatility, cascades, daily and weekly cycle), measured over many
# weeks, so that the per-day USD scales above come out about right.
MEAN_INTENSITY_FACTOR = 1.2

# GARCH(1,1) on hourly returns in units of the long-run hourly volatility.
GARCH_OMEGA, GARCH_ALPHA, GARCH_BETA = 0.03, 0.12, 0.85
MARKET_SHARE = 0.7  # share of an asset's shock variance that is market-wide
REVISED_HOUR_SHARE = 0.05


def stable_hash(*parts) -> int:
    """A 64-bit hash that, unlike hash(), is the same in every process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def week_index(epoch_hour: int) -> int:
    return (epoch_hour - FIRST_MONDAY_HOUR) // WEEK_HOURS


def week_start_hour(index: int) -> int:
    return FIRST_MONDAY_HOUR + index * WEEK_HOURS


@lru_cache(maxsize=256)
def asset_exchanges(asset: str) -> tuple[str, ...]:
    minor = MINOR_EXCHANGES_BY_ASSET.get(asset)
    if minor is None:
        minor = tuple(e for e in ("bfnx", "cbse", "drbt", "krkn") if stable_hash("listing", asset, e) % 2)
    return tuple(sorted(MAJOR_EXCHANGES + minor))


def asset_scale(asset: str) -> tuple[float, float]:
    """(typical USD per day, median event USD); unknown assets get a smaller, hash-derived scale."""
    if asset in DAILY_USD:
        return DAILY_USD[asset], MEDIAN_EVENT_USD[asset]
    fraction = (stable_hash("scale", asset) % 1000) / 1000
    return 0.3e6 + 2.7e6 * fraction, 400.0 + 600.0 * fraction


def krkn_first_hour(seed: int, index: int) -> int | None:
    """Kraken is delisted in about one week out of four; the week it comes back it starts mid-week.

    Returns the first hour of the week (0..167) krkn is listed, or None when absent all week.
    """
    def absent(i: int) -> bool:
        return stable_hash(seed, "krkn-absent", i) % 4 == 0

    if absent(index):
        return None
    if absent(index - 1):
        return 24 + stable_hash(seed, "krkn-return", index) % 96
    return 0


def activity_cycle(hours: np.ndarray) -> np.ndarray:
    """More liquidations around the EU and US opens, fewer in the Asian night and at weekends."""
    hour_of_day = hours % 24
    day = ((hours - FIRST_MONDAY_HOUR) // 24) % 7  # 0 = Monday
    daily = (1.0 + 0.35 * np.exp(-((hour_of_day - 8) / 2.0) ** 2)
             + 0.7 * np.exp(-((hour_of_day - 14.5) / 2.5) ** 2)
             - 0.3 * np.exp(-((hour_of_day - 3.5) / 2.0) ** 2))
    weekly = np.where(day >= 5, 0.6, 1.0)
    return daily * weekly


def _driver_draws(seed: int, asset: str, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The week's random drivers: standardized price shocks (mostly market-wide, so assets crash together),
    uniform draws that trigger cascades (market-wide) and cascade sizes (per asset)."""
    market = np.random.default_rng(stable_hash(seed, "market", index))
    own = np.random.default_rng(stable_hash(seed, asset, index, "drivers"))
    market_shocks = market.standard_t(4, WEEK_HOURS) / np.sqrt(2.0)
    cascade_draws = market.random(WEEK_HOURS)
    own_shocks = own.standard_t(4, WEEK_HOURS) / np.sqrt(2.0)
    cascade_sizes = np.minimum((own.pareto(1.3, WEEK_HOURS) + 1.0) * 8.0, 60.0)  # 60x: a 10/10-size crash
    shocks = np.sqrt(MARKET_SHARE) * market_shocks + np.sqrt(1 - MARKET_SHARE) * own_shocks
    return shocks, cascade_draws, cascade_sizes


def _run_drivers(draws, state: tuple[float, float, float, float]):
    """Hour by hour: GARCH variance (long-run mean 1), cascades and price momentum.

    Cascades are rare, likelier when volatile, decay over a few hours and are one-sided: one started by a
    drop liquidates longs, one started by a jump shorts. Returns the paths and the state after the week.
    """
    shocks, cascade_draws, cascade_sizes = draws
    variance, cascade, cascade_long_share, momentum = state
    paths = np.empty((4, WEEK_HOURS))
    for hour in range(WEEK_HOURS):
        cascade *= 0.6
        if cascade_draws[hour] < min(0.005 * variance, 0.2):
            cascade += cascade_sizes[hour]
            cascade_long_share = 0.92 if shocks[hour] < 0 else 0.08
        momentum = 0.6 * momentum + shocks[hour]
        paths[:, hour] = variance, cascade, cascade_long_share, momentum
        variance = min(GARCH_OMEGA + GARCH_ALPHA * variance * shocks[hour] ** 2 + GARCH_BETA * variance, 12.0)
    return paths, (variance, cascade, cascade_long_share, momentum)


@lru_cache(maxsize=4096)
def _end_state(seed: int, asset: str, index: int) -> tuple[float, float, float, float]:
    """The drivers' state after a week, run from a fresh random start.

    GARCH forgets where it started within a week (0.97^168 < 1 %), so this continues the previous week
    smoothly into the next without chaining every week back to the beginning of time.
    """
    fresh = np.random.default_rng(stable_hash(seed, asset, index, "fresh-start"))
    start = (float(fresh.lognormal(0.0, 0.6)), 0.0, 0.5, 0.0)
    return _run_drivers(_driver_draws(seed, asset, index), start)[1]


class MarketWeek(NamedTuple):
    """One ISO week of the market path, hour by hour (arrays of 168)."""

    shocks: np.ndarray  # the hour's return before any cascade's push, in long-run hourly volatilities
    variance: np.ndarray  # GARCH variance of the hour's return (long-run mean 1)
    cascade: np.ndarray  # liquidation-cascade level, a multiple of the normal intensity
    cascade_long_share: np.ndarray  # 0.92 for a cascade started by a drop (longs), 0.08 by a jump
    trend: np.ndarray  # exponentially weighted recent returns: negative after falls


@lru_cache(maxsize=4096)
def market_week(seed: int, asset: str, index: int) -> MarketWeek:
    """The week's market path, continued from the previous week's state: drives liquidations and prices."""
    draws = _driver_draws(seed, asset, index)
    paths, _ = _run_drivers(draws, _end_state(seed, asset, index - 1))
    return MarketWeek(draws[0], *paths)


def _listed(seed: int, exchanges: tuple[str, ...], index: int) -> np.ndarray:
    """(hours, exchanges) booleans: is the exchange listed in that hour."""
    hours = week_start_hour(index) + np.arange(WEEK_HOURS)
    listed = np.ones((WEEK_HOURS, len(exchanges)), dtype=bool)
    for column, exchange in enumerate(exchanges):
        if exchange == "hbdm":
            listed[:, column] = hours >= HBDM_START_HOUR
        elif exchange == "krkn":
            first = krkn_first_hour(seed, index)
            listed[:, column] = False if first is None else np.arange(WEEK_HOURS) >= first
    return listed


@lru_cache(maxsize=4096)
def base_week(seed: int, asset: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(trades, amounts), each shaped (168 hours, exchanges, 2 sides: long, short), for one ISO week."""
    rng = np.random.default_rng(stable_hash(seed, asset, index))
    exchanges = asset_exchanges(asset)
    daily_usd, median_usd = asset_scale(asset)
    hours = week_start_hour(index) + np.arange(WEEK_HOURS)

    shocks, variance, cascade_level, cascade_long_share, momentum = market_week(seed, asset, index)
    hourly_events = daily_usd / 24 / (median_usd * MEAN_EVENT_OVER_MEDIAN) / MEAN_INTENSITY_FACTOR
    normal = hourly_events * activity_cycle(hours) * variance**0.8 * (1 + 0.6 * np.abs(shocks))
    # A falling price liquidates longs; a rising one shorts.
    trend_long_share = 0.12 + 0.76 / (1 + np.exp(1.4 * momentum))
    cascade = normal * cascade_level
    intensity = normal + cascade
    long_share = (normal * trend_long_share + cascade * cascade_long_share) / intensity

    weights = np.array([EXCHANGE_SHARES[e] for e in exchanges])
    weights = weights / weights.sum() * rng.gamma(6.0, 1 / 6.0, (WEEK_HOURS, len(exchanges)))
    weights *= _listed(seed, exchanges, index)
    sides = np.stack([long_share, 1 - long_share], axis=-1)  # (hours, 2)
    expected = intensity[:, None, None] * weights[:, :, None] * sides[:, None, :]
    trades = rng.poisson(expected)

    count = int(trades.sum())
    sizes = rng.lognormal(np.log(median_usd), BODY_SIGMA, count)
    tail = rng.random(count) < TAIL_SHARE
    sizes[tail] = median_usd * TAIL_SCALE * (rng.pareto(TAIL_ALPHA, int(tail.sum())) + 1.0)
    cells = np.repeat(np.arange(trades.size), trades.ravel())
    amounts = np.bincount(cells, weights=sizes, minlength=trades.size).reshape(trades.shape)
    return trades, amounts


@lru_cache(maxsize=4096)
def revised_week(seed: int, asset: str, index: int, revision: int) -> tuple[np.ndarray, np.ndarray]:
    """The week as published at `revision`: each revision restates about 5 % of the hours."""
    trades, amounts = base_week(seed, asset, index)
    if revision <= 0:
        return trades, amounts
    trades, amounts = trades.copy(), amounts.copy()
    start = week_start_hour(index)
    for hour in range(WEEK_HOURS):
        for rev in range(1, revision + 1):
            key = stable_hash(seed, asset, start + hour, "revision", rev)
            if key % 1000 >= REVISED_HOUR_SHARE * 1000:
                continue
            rng = np.random.default_rng(key)
            active = trades[hour] > 0
            amounts[hour] = np.where(active, amounts[hour] * rng.uniform(0.8, 1.25, amounts[hour].shape), 0.0)
            trades[hour] = np.where(active, trades[hour] + rng.integers(0, 3, trades[hour].shape), 0)
    return trades, amounts


def hourly_block(seed: int, asset: str, first_hour: int, end_hour: int, revision: int):
    """(trades, amounts) for epoch hours [first_hour, end_hour), shaped (hours, exchanges, 2)."""
    exchanges = asset_exchanges(asset)
    count = max(end_hour - first_hour, 0)
    trades = np.zeros((count, len(exchanges), 2), dtype=np.int64)
    amounts = np.zeros((count, len(exchanges), 2))
    hour = first_hour
    while hour < end_hour:
        index = week_index(hour)
        start = week_start_hour(index)
        stop = min(start + WEEK_HOURS, end_hour)
        week_trades, week_amounts = revised_week(seed, asset, index, revision)
        trades[hour - first_hour:stop - first_hour] = week_trades[hour - start:stop - start]
        amounts[hour - first_hour:stop - first_hour] = week_amounts[hour - start:stop - start]
        hour = stop
    return trades, amounts
