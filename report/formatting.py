"""Numbers and times for people: $12.3M, +18.4 %, 1,234 events, Tue 25 Feb 14:00 UTC.

Shared by the report and the email, so the same figure reads the same in both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

EXCHANGE_NAMES = {
    "binc": "Binance", "bbit": "Bybit", "okex": "OKX", "drbt": "Deribit", "hbdm": "HTX (Huobi)",
    "bfnx": "Bitfinex", "krkn": "Kraken", "cbse": "Coinbase", "gate": "Gate", "bgtx": "Bitget",
    "mexc": "MEXC", "kcon": "KuCoin",
}


def usd(amount: float | None) -> str:
    """Three significant figures at most, as liquidations are quoted: $912M, $12.3M, $4.5K, $0."""
    if amount is None:
        return "n/a"
    sign = "-" if amount < 0 else ""
    value = float(f"{abs(amount):.3g}")  # round first so 999.96M reads $1.00B, not $1000M
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= threshold:
            scaled = value / threshold
            return f"{sign}${scaled:.3g}{suffix}" if scaled >= 100 else f"{sign}${scaled:.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def change(fraction: float | None) -> str:
    """0.184 → '+18.4 %'; 'n/a' when there is no base to compare with."""
    if fraction is None:
        return "n/a"
    return f"{fraction * 100:+.1f} %"


def share(fraction: float | None, digits: int = 1) -> str:
    """0.494 → '49.4 %' (digits=0: '49 %', for the email's shorter lines)."""
    if fraction is None:
        return "n/a"
    return f"{fraction * 100:.{digits}f} %"


def count(number: int | None) -> str:
    return "n/a" if number is None else f"{int(number):,}"


def number(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def utc_hour(moment: datetime | None) -> str:
    return "n/a" if moment is None else f"{moment:%a %d %b %Y %H:%M} UTC"


def utc_day(day: date | datetime | None) -> str:
    return "n/a" if day is None else f"{day:%a %d %b %Y}"


def iso_z(moment: datetime | None) -> str | None:
    """Naive warehouse timestamps are UTC by convention; summary.json spells them with a Z."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def exchange_name(code: str) -> str:
    """Display name with the code, or the bare code for an exchange we do not know."""
    name = EXCHANGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


@dataclass(frozen=True)
class PeriodWords:
    """How the report names its period and the comparison base: a week, or any other [start, end)."""

    this: str
    last: str
    average: str
    same_day: str
    average_short: str


WEEK_WORDS = PeriodWords("this week", "last week", "the 4-week average", "Previous week, same day",
                         "4-wk avg")


def period_words(hours: int) -> PeriodWords:
    if hours == 168:
        return WEEK_WORDS
    return PeriodWords("this period", f"the previous {hours} h", f"the average of the 4 previous {hours} h",
                       f"{hours} h earlier", "4-period avg")


FILTERS = {
    "usd": usd, "change": change, "share": share, "count": count, "number": number,
    "utc_hour": utc_hour, "utc_day": utc_day, "exchange_name": exchange_name,
}
