"""Configuration, resolved once at the edge: command-line flags > environment > liqreport.toml > defaults.

No other module reads os.environ; they receive a Settings object.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from report.errors import ConfigError

DEMO_ASSETS = ("btc", "eth", "sol", "xrp", "doge")
REGIONS = ("us", "eu")
ASSET_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
INTERVAL = re.compile(r"^(?:([1-9]|1[0-9]|2[0-4])h|1d)$")
CONFIG_FILE = "liqreport.toml"
SMTP_SECURITY = ("starttls", "ssl", "none")
CONFIG_KEYS = {
    "assets",
    "region",
    "interval",
    "output_dir",
    "base_url",
    "page_size",
    "concurrency",
    "max_requests_per_second",
    "timeout_s",
    "max_attempts",
    "settle_hours",
    "email_to",
    "site_url",
    "price",
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    security: str = "starttls"  # starttls | ssl | none


# --- price context: one reference instrument per asset (docs/architecture.md, "Price settings") ---------
# Kaiko's own instrument codes (KAIKO_FACTS.md: `btc-usd` for a spot pair at cbse). These defaults follow
# that base-quote convention for Binance's USDT perpetuals; check them against Kaiko's instrument reference.
DEFAULT_PRICE_INSTRUMENTS = {asset: ("binc", "perpetual-future", f"{asset}-usdt") for asset in DEMO_ASSETS}
PRICE_KEYS = ("exchange", "instrument_class", "instrument")
INSTRUMENT_CLASSES = ("spot", "future", "perpetual-future", "option")
KAIKO_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class PriceInstrument:
    asset: str
    exchange: str
    instrument_class: str
    instrument: str

    @property
    def path(self) -> str:
        """`{exchange}/{instrument_class}/{instrument}`, as in the OHLCV URL."""
        return f"{self.exchange}/{self.instrument_class}/{self.instrument}"


@dataclass(frozen=True)
class PriceSettings:
    """`price = false` turns price context off; `[price.<asset>]` tables override the default table."""

    enabled: bool = True
    instruments: tuple[PriceInstrument, ...] = tuple(
        PriceInstrument(asset, *codes) for asset, codes in DEFAULT_PRICE_INSTRUMENTS.items())

    def instrument_for(self, asset: str) -> PriceInstrument | None:
        """The asset's reference instrument, or None (price off, or no instrument for this asset)."""
        if not self.enabled:
            return None
        return next((entry for entry in self.instruments if entry.asset == asset), None)


def parse_price(value) -> PriceSettings:
    """`price` from liqreport.toml: true/false, or `[price.<asset>]` tables (`<asset> = false`: none)."""
    if isinstance(value, bool):
        return PriceSettings(enabled=value)
    if not isinstance(value, dict):
        raise ConfigError(f"price must be true, false or [price.<asset>] tables, got {value!r}.")
    table = dict(DEFAULT_PRICE_INSTRUMENTS)
    for asset, entry in value.items():
        if not ASSET_CODE.match(asset):
            raise ConfigError(f"[price.{asset}] does not name an asset code: use lower-case codes, "
                              "e.g. [price.btc].")
        if entry is False:
            table.pop(asset, None)
            continue
        table[asset] = _price_entry(asset, entry, table.get(asset))
    return PriceSettings(instruments=tuple(PriceInstrument(asset, *codes) for asset, codes in table.items()))


def _price_entry(asset: str, entry, default: tuple[str, str, str] | None) -> tuple[str, str, str]:
    if not isinstance(entry, dict):
        raise ConfigError(f"[price.{asset}] must be a table of {', '.join(PRICE_KEYS)} (or {asset} = false "
                          f"under [price] for no price), got {entry!r}.")
    unknown = sorted(set(entry) - set(PRICE_KEYS))
    if unknown:
        raise ConfigError(f"[price.{asset}] has unknown key(s): {', '.join(unknown)}; "
                          f"use {', '.join(PRICE_KEYS)}.")
    missing = [key for key in PRICE_KEYS if key not in entry]
    if missing and default is None:
        raise ConfigError(f"[price.{asset}] needs {', '.join(missing)}: {asset} has no default instrument "
                          f'(e.g. exchange = "binc", instrument_class = "perpetual-future", '
                          f'instrument = "{asset}-usdt").')
    codes = dict(zip(PRICE_KEYS, default or ("", "", ""), strict=True)) | entry
    for key in PRICE_KEYS:
        if not isinstance(codes[key], str) or not KAIKO_CODE.match(codes[key]):
            raise ConfigError(f"[price.{asset}] {key} = {codes[key]!r} is not a Kaiko code: use lower-case "
                              "letters, digits, '.', '_' or '-', e.g. binc, perpetual-future, btc-usdt.")
    if codes["instrument_class"] not in INSTRUMENT_CLASSES:
        raise ConfigError(f"[price.{asset}] instrument_class = {codes['instrument_class']!r} is not one of "
                          f"{', '.join(INSTRUMENT_CLASSES)}.")
    return codes["exchange"], codes["instrument_class"], codes["instrument"]


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)
    region: str = "us"
    base_url: str | None = None
    assets: tuple[str, ...] = DEMO_ASSETS
    interval: str = "1h"
    output_dir: Path = Path("output")
    page_size: int = 1000
    # Kaiko's current limit is 100 requests/s a key (older docs: 1,000/min); 50/s stays well under it and,
    # with 8 windows at once, keeps a 150 ms-latency fetch within 1.5x of its lower bound (bench/README.md).
    concurrency: int = 8
    max_requests_per_second: float = 50.0
    timeout_s: float = 30.0
    max_attempts: int = 6
    settle_hours: int = 24
    no_demo: bool = False
    email_to: tuple[str, ...] = ()
    site_url: str | None = None  # where the published site lives, for links in the email
    # The endpoint's history starts here (KAIKO_FACTS.md): earlier hours are "no coverage", never zero.
    # Not a user setting; benchmarks over synthetic history move it.
    history_start: datetime = datetime(2025, 1, 8)
    smtp: SmtpSettings = SmtpSettings()
    price: PriceSettings = PriceSettings()

    @property
    def demo(self) -> bool:
        """True when the job runs on the built-in simulator: no key and no other endpoint given."""
        return self.api_key is None and self.base_url is None

    @property
    def api_root(self) -> str:
        return (self.base_url or f"https://{self.region}.market-api.kaiko.io").rstrip("/")

    @property
    def landing_dir(self) -> Path:
        return self.output_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.output_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.output_dir / "reports"

    @property
    def site_dir(self) -> Path:
        return self.output_dir / "site"

    def with_(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def validate_asset(code: str) -> str:
    if not ASSET_CODE.match(code):
        raise ConfigError(
            f"{code!r} is not an asset code: use lower-case letters, digits, '_' or '-' "
            "(at most 32 characters), e.g. btc,eth,sol."
        )
    return code


def validate_interval(interval: str) -> str:
    if not INTERVAL.match(interval):
        raise ConfigError(
            f"interval {interval!r} is not supported: use a whole number of hours from 1h to 24h, or 1d."
        )
    return interval


def interval_hours(interval: str) -> int:
    validate_interval(interval)
    return 24 if interval == "1d" else int(interval[:-1])


def parse_assets(value: str | list | tuple) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    assets = tuple(validate_asset(str(a).strip()) for a in items if str(a).strip())
    if not assets:
        raise ConfigError("no assets given: pass --assets btc,eth or set assets in liqreport.toml.")
    return tuple(dict.fromkeys(assets))


def _positive(name: str, value, kind=int):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}.") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}.")
    return number


def load_config_file(path: Path, *, required: bool = False) -> dict:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path} does not exist: check --config.")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{path} has unknown key(s): {', '.join(unknown)}; "
            f"known keys are {', '.join(sorted(CONFIG_KEYS))}."
        )
    return data


def resolve(
    flags: dict, environ: dict, config_path: Path | None = None, *, config_required: bool = False
) -> Settings:
    """Merge flags > environment > liqreport.toml > defaults into one validated Settings."""
    file_values = load_config_file(config_path or Path(CONFIG_FILE), required=config_required)
    env_values = {
        "api_key": environ.get("KAIKO_API_KEY") or None,
        "region": environ.get("KAIKO_REGION") or None,
        "base_url": environ.get("KAIKO_BASE_URL") or None,
    }
    merged: dict = {}
    for source in (file_values, env_values, flags):
        merged.update({k: v for k, v in source.items() if v is not None})

    values: dict = {}
    if "api_key" in merged:
        values["api_key"] = merged["api_key"]
    region = str(merged.get("region", "us")).lower()
    if region not in REGIONS:
        raise ConfigError(f"region {region!r} is not supported: use us or eu (KAIKO_REGION or --region).")
    values["region"] = region
    if merged.get("base_url"):
        base_url = str(merged["base_url"])
        if not re.match(r"^https?://[^\s/]+", base_url):
            raise ConfigError(f"base URL {base_url!r} is not an http(s) URL (KAIKO_BASE_URL or --base-url).")
        values["base_url"] = base_url
    if "assets" in merged:
        values["assets"] = parse_assets(merged["assets"])
    values["interval"] = validate_interval(str(merged.get("interval", "1h")))
    if "output_dir" in merged:
        values["output_dir"] = Path(merged["output_dir"])
    for name in ("page_size", "concurrency", "max_attempts", "settle_hours"):
        if name in merged:
            values[name] = _positive(name, merged[name])
    if values.get("page_size", 1) > 1000:
        raise ConfigError(f"page_size must be at most 1000 (the API's maximum), got {values['page_size']}.")
    for name in ("max_requests_per_second", "timeout_s"):
        if name in merged:
            values[name] = _positive(name, merged[name], float)
    values["no_demo"] = bool(merged.get("no_demo", False))
    if "email_to" in merged:
        raw = merged["email_to"]
        values["email_to"] = tuple(
            a.strip() for a in (raw.split(",") if isinstance(raw, str) else raw) if a.strip()
        )
    if merged.get("site_url"):
        values["site_url"] = str(merged["site_url"]).rstrip("/")
    if "price" in merged:
        values["price"] = parse_price(merged["price"])
    security = (environ.get("SMTP_SECURITY") or "starttls").lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(f"SMTP_SECURITY {security!r} is not supported: use starttls, ssl or none.")
    values["smtp"] = SmtpSettings(
        host=environ.get("SMTP_HOST") or None,
        port=_positive("SMTP_PORT", environ.get("SMTP_PORT", 587)),
        user=environ.get("SMTP_USER") or None,
        password=environ.get("SMTP_PASSWORD") or None,
        sender=environ.get("SMTP_FROM") or None,
        security=security,
    )
    settings = Settings(**values)
    if settings.no_demo and settings.api_key is None:
        raise ConfigError(
            "no API key: set KAIKO_API_KEY (or drop --no-demo to run on the built-in simulator)."
        )
    return settings


# sql/ and templates/ live beside the package (the project is installed editable, as the Makefile does).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
