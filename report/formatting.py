"""Numbers, times and names for people: $1.02B, +55%, 59% long, Fri 27 Nov 14:00 UTC, Binance.

The one formatting module of the report, the email and the site, so the same figure reads the same in all
three. Values come from the marts (datetimes, dates) or from summary.json (ISO strings); both are accepted.
Nothing here computes a figure: it only words the figures the SQL models computed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MISSING = "–"  # en dash: no value (a missing base, an average without trades)
MINUS = "−"  # U+2212, the one minus sign of every figure: -7.1% and −2.4 must not sit side by side

EXCHANGE_NAMES = {
    "binc": "Binance", "bbit": "Bybit", "okex": "OKX", "drbt": "Deribit", "hbdm": "HTX (Huobi)",
    "bfnx": "Bitfinex", "krkn": "Kraken", "cbse": "Coinbase", "gate": "Gate", "bgtx": "Bitget",
    "mexc": "MEXC", "kcon": "KuCoin",
}


def usd(amount: float | None) -> str:
    """Three significant figures, as liquidations are quoted: $1.02B, $912M, $12.3M, $4.52K, $950."""
    if amount is None:
        return MISSING
    sign = MINUS if amount < 0 else ""
    value = float(f"{abs(amount):.3g}")  # round first so 999.96M reads $1.00B, not $1000M
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= threshold:
            scaled = value / threshold
            decimals = 0 if scaled >= 100 else (1 if scaled >= 10 else 2)
            return f"{sign}${scaled:.{decimals}f}{suffix}"
    return f"{sign}${value:,.0f}"


def change(fraction: float | None) -> str:
    """0.547 → '+55%', -0.0707 → '−7.1%'; 'n/a' when there is no base to compare with."""
    if fraction is None:
        return "n/a"
    percent = fraction * 100
    text = f"{percent:+.0f}%" if abs(percent) >= 9.95 else f"{percent:+.1f}%"
    return text.replace("-", MINUS)


def share(fraction: float | None, digits: int = 0) -> str:
    """0.593 → '59%'; a share that rounds to zero but is not zero reads '<1%'."""
    if fraction is None:
        return MISSING
    if 0 < fraction < 0.5 * 10 ** -(digits + 2):
        return f"<{10 ** -digits:g}%"
    return f"{fraction * 100:.{digits}f}%"


def side_share(long_share: float | None) -> tuple[str, str]:
    """The larger side and its share: (side, '89% long') — printed in that side's colour."""
    if long_share is None:
        return "", MISSING
    side = "long" if long_share >= 0.5 else "short"
    return side, f"{share(long_share if side == 'long' else 1 - long_share)} {side}"


def count(number: int | None) -> str:
    return MISSING if number is None else f"{int(number):,}"


def zscore(value: float | None) -> str:
    """+4.9, −2.1, 0.0 (no sign on a zero)."""
    if value is None:
        return MISSING
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", MINUS)


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def rank_words(rank: int, of: int, noun: str = "weeks") -> str:
    """'the largest of 13 weeks', 'the 7th largest of 13 weeks', 'the smallest of 13 weeks'."""
    if rank == 1:
        return f"the largest of {of} {noun}"
    if rank == of:
        return f"the smallest of {of} {noun}"
    return f"the {ordinal(rank)} largest of {of} {noun}"


def moment(value: datetime | date | str | None) -> datetime | date | None:
    """A mart value or a summary.json string ('2025-02-25T14:00:00Z', '2025-02-25') as a date/datetime."""
    if value is None or isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 10:
        return date.fromisoformat(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def day_month(value: date) -> str:
    """'9 Nov': the one day format of the report, the email, the charts and the site (no leading zero)."""
    return f"{value.day} {value:%b}"


def utc_hour(value, year: bool = False) -> str:
    parsed = moment(value)
    if parsed is None:
        return MISSING
    return f"{parsed:%a} {day_month(parsed)}{f' {parsed:%Y}' if year else ''} {parsed:%H:%M} UTC"


def hour_cell(value) -> str:
    """An hour in a table whose header already says UTC: 'Fri 27 Nov 14:00'."""
    parsed = moment(value)
    return MISSING if parsed is None else f"{parsed:%a} {day_month(parsed)} {parsed:%H:%M}"


def utc_day(value, year: bool = True) -> str:
    parsed = moment(value)
    if parsed is None:
        return MISSING
    return f"{parsed:%a} {day_month(parsed)}" + (f" {parsed:%Y}" if year else "")


def short_date(value) -> str:
    parsed = moment(value)
    return MISSING if parsed is None else f"{day_month(parsed)} {parsed:%Y}"


def utc_time(value) -> str:
    """'2025-03-03T09:12:44Z' → '2025-03-03 09:12 UTC'."""
    parsed = moment(value)
    return "n/a" if parsed is None else f"{parsed:%Y-%m-%d %H:%M} UTC"


def period_dates(start, end) -> str:
    """[Mon 24 Feb, Mon 3 Mar) → 'Mon 24 Feb – Sun 2 Mar 2025 (UTC)'; other ranges with their hours."""
    first, last = moment(start), moment(end)
    if first.time() == last.time() == datetime.min.time():
        last -= timedelta(days=1)
        return f"{utc_day(first, year=first.year != last.year)} – {utc_day(last)} (UTC)"
    return f"{short_date(first)} {first:%H:%M} – {short_date(last)} {last:%H:%M} UTC"


def iso_z(value: datetime | None) -> str | None:
    """Naive warehouse timestamps are UTC by convention; summary.json spells them with a Z."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


def exchange_label(code: str | None) -> str:
    """The display name (Binance), or the bare code for an exchange we do not know."""
    if not code:
        return MISSING
    return EXCHANGE_NAMES.get(code) or visible(code)


def exchange_name(code: str | None) -> str:
    """The display name with the code the exports use: 'Binance (binc)'."""
    if not code:
        return MISSING
    name = EXCHANGE_NAMES.get(code)
    return f"{name} ({code})" if name else visible(code)


def visible(code: str) -> str:
    """A code from the API as text a reader can see: control characters (a tab, a carriage return) as
    their escapes, `\\tTAB`, not as nothing in HTML or a missing glyph in a chart."""
    return "".join(repr(char)[1:-1] if unicodedata.category(char) == "Cc" else char for char in code)


def asset_label(code: str | None) -> str:
    return MISSING if not code else str(code).upper()


@dataclass(frozen=True)
class PeriodWords:
    """How the report names its period and the comparison base: a week, or any other [start, end)."""

    this: str
    last: str
    average: str
    same_day: str
    average_short: str
    last_short: str
    noun: str = "week"


WEEK_WORDS = PeriodWords("this week", "last week", "the 4-week average", "Same day last week", "4-wk avg",
                         "last wk")


def period_words(hours: int) -> PeriodWords:
    if hours == 168:
        return WEEK_WORDS
    return PeriodWords("this period", f"the previous {hours} h", f"the average of the 4 previous {hours} h",
                       f"{hours} h earlier", "4-period avg", f"prev. {hours} h", "period")


def coverage_words(overview: dict) -> str:
    """'' when every asset asked for has every hour; else what is missing, said plainly."""
    parts = []
    if overview["assets_covered"] < overview["assets_requested"]:
        parts.append(f"{overview['assets_covered']} of {overview['assets_requested']} assets have data")
    if overview["hours_covered"] < overview["hours_expected"]:
        parts.append(f"{overview['hours_covered']:,} of {overview['hours_expected']:,} asset-hours covered")
    return "; ".join(parts)


def verdict(overview: dict, label: str, words: PeriodWords = WEEK_WORDS) -> str:
    """The first screen's one sentence: how much, which side, where, and how unusual — from rpt_overview."""
    if not overview["total_amount"]:
        gap = coverage_words(overview)
        return (f"No liquidations were reported in {label}" + (f" ({gap})." if gap else ".")
                if overview["assets_covered"] else f"No data covers {label}: nothing was fetched for it.")
    parts = [f"{usd(overview['total_amount'])} was liquidated in {label}"]
    comparisons = []
    if overview["change_vs_last_week"] is not None:
        comparisons.append(f"{change(overview['change_vs_last_week'])} on {words.last} "
                           f"({usd(overview['previous_total_amount'])})")
    if overview["change_vs_4w_avg"] is not None:
        comparisons.append(f"{change(overview['change_vs_4w_avg'])} on {words.average} "
                           f"({usd(overview['trailing_4w_average'])})")
    if comparisons:
        parts[0] += ", " + " and ".join(comparisons)
    parts[0] += f", {side_share(overview['long_share'])[1]}"
    leaders = []
    if overview["leading_asset"] and overview["assets_covered"] > 1:
        leaders.append(f"{asset_label(overview['leading_asset']['asset'])} led the assets "
                       f"({share(overview['leading_asset']['share'])})")
    if overview["leading_exchange"]:
        leaders.append(f"{exchange_label(overview['leading_exchange']['exchange'])} "
                       + ("the exchanges" if leaders else "led the exchanges")
                       + f" ({share(overview['leading_exchange']['share'])})")
    if leaders:
        parts.append(" and ".join(leaders))
    rank = overview["rank"]
    gap = coverage_words(overview)
    if rank:
        since = f"since {short_date(rank['since'])}"
        parts.append(f"{rank_words(rank['rank'], rank['of'], 'fully covered weeks')} " + (
            since if rank["of"] == rank["weeks_since"] else f"(of {rank['weeks_since']} {since})"))
    elif not overview["is_iso_week"]:
        parts.append("not ranked: only ISO weeks are ranked")
    elif overview["hours_covered"] < overview["hours_expected"]:
        parts.append(f"not ranked: only {overview['hours_covered']:,} of {overview['hours_expected']:,} "
                     "asset-hours are covered")
        gap = coverage_words({**overview, "hours_covered": overview["hours_expected"]})
    if rank and overview["robust_z"] is None:
        parts.append(f"no robust z: {overview['weeks_in_baseline']} fully covered weeks among the 12 before "
                     "(8 needed)")
    how_unusual = unusual_clause(overview)
    if how_unusual:
        parts.append(how_unusual)
    sentence = "; ".join(parts)
    return sentence + (f" (partial: {gap})." if gap else ".")


UNUSUAL_WORDS = {
    "far above usual": "far heavier than usual", "above usual": "heavier than usual",
    "usual": "within its usual range", "below usual": "quieter than usual",
    "far below usual": "far quieter than usual",
}


def unusual_words(level: str | None) -> str:
    return UNUSUAL_WORDS.get(level or "", "n/a")


def unusual_clause(overview: dict) -> str:
    """What the z of the total says, and the hours of cross-asset spikes whenever there were any: a week of
    cascades can have a usual total. "An ordinary week" only when rpt_overview found it so."""
    unusual, spikes = overview["robust_z"], overview["joint_spike_hours"]
    largest = overview["largest_joint_spike"]
    spike_text = ""
    if spikes and largest:
        where = f"{usd(largest['total_amount'])} on {utc_hour(largest['hour'])}"
        spike_text = (f"{spikes} hours saw two or more assets spike together, the largest {where}"
                      if spikes > 1 else f"one hour saw two or more assets spike together, {where}")
    if not unusual:
        return spike_text
    z = f"robust z {zscore(unusual['z'])} vs the 12 weeks before"
    if overview["ordinary_week"]:
        return f"{z}: an ordinary week"
    if unusual["level"] == "usual":
        text = f"total {unusual_words(unusual['level'])} ({z})"
        return f"{text} but {spike_text}" if spike_text else text
    text = f"{z}: {unusual_words(unusual['level'])}"
    return f"{text}; {spike_text}" if spike_text else text


def subject_figures(overview: dict, label: str) -> str:
    """'Liquidations 2026-W48: $1.02B, +55% w/w, 59% long, ETH led' — the week at a glance."""
    if not overview["total_amount"]:
        return f"Liquidations {label}: none reported" if overview["assets_covered"] else (
            f"Liquidations {label}: no data")
    parts = [usd(overview["total_amount"])]
    if overview["change_vs_last_week"] is not None:
        parts.append(f"{change(overview['change_vs_last_week'])} w/w")
    parts.append(f"{share(overview['long_share'])} long")
    if overview["leading_asset"]:
        parts.append(f"{asset_label(overview['leading_asset']['asset'])} led")
    text = f"Liquidations {label}: {', '.join(parts)}"
    return text + (" (partial data)" if coverage_words(overview) else "")


# --- price context (issue 13): the move of each asset's reference instrument, and why there is none

INSTRUMENT_CLASS_WORDS = {"perpetual-future": "perpetual", "future": "future", "spot": "spot",
                          "option": "option"}


def price_move(fraction: float | None) -> str:
    """The period's price move as a verb: 'rose 15.3%', 'fell 8.2%', 'was unchanged'; '' without one."""
    if fraction is None:
        return ""
    percent = abs(fraction) * 100
    if percent < 0.05:
        return "was unchanged"
    return f"{'rose' if fraction > 0 else 'fell'} {percent:.1f}%"


def move(fraction: float | None) -> str:
    """A price move in a table: +15.3%, −8.2% (one decimal: price moves are small numbers); '–' without."""
    if fraction is None:
        return MISSING
    text = f"{fraction * 100:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text.replace("-", MINUS)


def percent(value: float | None) -> str:
    """A figure already in percent (the *_pct columns): 73.4 → '73%', 4.21 → '4.2%'."""
    if value is None:
        return MISSING
    return f"{value:.0f}%" if abs(value) >= 9.95 else f"{value:.1f}%"


def correlation(value: float | None) -> str:
    """Pearson's r to two decimals, with a real minus sign: −0.68."""
    if value is None:
        return MISSING
    return f"{value:+.2f}".replace("-", MINUS).replace("+0.00", "0.00").replace(f"{MINUS}0.00", "0.00")


def price_level(value: float | None) -> str:
    """A price in its quote currency with five significant figures: 257,462 · 7,439.6 · 818.50 · 6.1385."""
    if value is None:
        return MISSING
    if abs(value) < 1:
        return f"{value:.5g}"
    return f"{value:,.{max(0, 5 - len(str(int(abs(value)))))}f}"


def price_axis(value: float) -> str:
    """Round axis labels: 258K, 7.4K, 818, 6.1, 0.38."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}K"
    return f"{value:.3g}"


def quote_currency(instrument: str | None) -> str:
    """'btc-usdt' → 'USDT' (Kaiko's base-quote codes); '' for a code without a quote."""
    base, _, quote = (instrument or "").rpartition("-")
    return quote.upper() if base else ""


def instrument_label(exchange: str | None, instrument_class: str | None, instrument: str | None) -> str:
    """'Binance BTC-USDT perpetual': the reference instrument as a reader says it."""
    if not instrument:
        return MISSING
    kind = INSTRUMENT_CLASS_WORDS.get(instrument_class or "", instrument_class or "")
    return " ".join(part for part in (exchange_label(exchange), instrument.upper(), kind) if part)


def price_status_words(status: str | None, hours_covered: int = 0, hours_in_period: int = 0) -> str:
    """Why an asset has (or lacks) a price, in a few words (rpt_price_coverage.price_status)."""
    if status == "partial":
        return (f"partial: {hours_covered} of {hours_in_period} hours fetched; the move is not shown and "
                "per-1% figures use the covered hours only")
    return PRICE_STATUS_WORDS.get(status or "", "no price data")


def price_status_text(row: dict) -> str:
    """rpt_price_coverage's row in words, with the hours that had no trade."""
    text = price_status_words(row["price_status"], row["hours_price_covered"], row["hours_in_period"])
    idle = row["hours_price_covered"] - row["hours_with_price"]
    if idle > 0:
        text += f"; {idle} hour{'s' if idle != 1 else ''} without a trade or a consistent bar (no price)"
    return text


def price_status_short(status: str | None) -> str:
    """A word or two for a table cell: 'no access', 'not fetched', …"""
    return PRICE_STATUS_SHORT.get(status or "", "no data")


PRICE_STATUS_SHORT = {"complete": "complete", "partial": "partial", "off": "off", "no_access": "no access",
                      "not_landed": "not fetched", "no_instrument": "no instrument"}


PRICE_STATUS_WORDS = {
    "complete": "complete",
    "off": "off: price = false in liqreport.toml",
    "no_access": "no access: the API key has no trade data for this instrument (HTTP 403)",
    "not_landed": "not fetched: no complete price window covers the period (the next run asks again)",
    "no_instrument": "no reference instrument: add a [price.<asset>] table to liqreport.toml",
}


FILTERS = {
    "usd": usd, "change": change, "share": share, "count": count, "zscore": zscore,
    "utc_hour": utc_hour, "hour_cell": hour_cell, "utc_day": utc_day, "utc_time": utc_time,
    "short_date": short_date, "period_dates": period_dates,
    "exchange_name": exchange_name, "exchange_label": exchange_label, "asset_label": asset_label,
    "price_move": price_move, "move": move, "percent": percent, "correlation": correlation,
    "price_level": price_level, "price_status_text": price_status_text,
    "price_status_short": price_status_short,
}
