"""Configuration, resolved once at the edge: command-line flags > environment > liqreport.toml > defaults.

No other module reads os.environ; they receive a Settings object.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

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
    base_url: str | None = None  # never with credentials: those are in api_auth
    api_auth: tuple[str, str] | None = field(default=None, repr=False)  # from user:password@ in the URL
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
    wait_for_lock: bool = False  # --wait: queue behind another writer of output_dir instead of failing
    # True when base_url is the simulator pipeline.source() started in-process for the demo: its port
    # changes every run, so its landings are identified as "the built-in simulator", not by URL.
    builtin_simulator: bool = False
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
    items = _text_list("assets", value, "codes, e.g. [\"btc\", \"eth\"] or \"btc,eth\"")
    assets = tuple(validate_asset(item) for item in items)
    if not assets:
        raise ConfigError("no assets given: pass --assets btc,eth or set assets in liqreport.toml.")
    return tuple(dict.fromkeys(assets))


# Typed settings: (kind, lowest, highest). Bounds are what the API and one machine can sensibly take.
NUMBERS = {
    "page_size": (int, 1, 1000),  # the API's maximum
    "concurrency": (int, 1, 64),  # windows in flight; more only queues behind the rate limit
    "max_attempts": (int, 1, 20),
    "settle_hours": (int, 1, 24 * 31),
    "max_requests_per_second": (float, 0.01, 1000.0),  # Kaiko allows 100/s a key
    "timeout_s": (float, 0.1, 600.0),
}
FLAG_OF = {"page_size": "--page-size", "concurrency": "--concurrency", "max_requests_per_second": "--max-rps",
           "settle_hours": "--settle-hours"}
WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")


def typed_number(name: str, value, kind: type = int, low: float | None = None, high: float | None = None):
    """`value` as an int or float within [low, high]. Refuses true/false, 10.9 for an int, NaN and inf.

    Strings (flags, environment) are parsed; TOML values must already have the right type.
    """
    if isinstance(value, str):
        text = value.strip()
        if kind is int and not WHOLE_NUMBER.match(text):
            raise ConfigError(f"{name} must be a whole number, got {value!r}.")
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}.") from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {_shown(value)}.")
    elif kind is int and isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ConfigError(f"{name} must be a whole number, got {value!r}.")  # 1e3 is 1000, 10.9 is refused
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    value = kind(value)
    if low is not None and high is not None and not low <= value <= high:
        raise ConfigError(f"{name} must be from {low:g} to {high:g}, got {value!r}.")
    return value


def _shown(value) -> str:
    """A TOML value as the user wrote it: true/false, not Python's True/False."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {_shown(value)}.")
    return value


def _text_list(name: str, value, example: str) -> list[str]:
    """A comma-separated string or a list of strings, stripped, empty items dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise ConfigError(f"{name} must be a list of {example}, got {_shown(value)}.")
    return [item.strip() for item in items if item.strip()]


EMAIL_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\]+$")


def validate_email(address: str, name: str = "recipient") -> str:
    """A bare address (user@example.com): nothing that could break a header or add a recipient."""
    if not address.isprintable() or not EMAIL_ADDRESS.match(address):
        raise ConfigError(f"{name} {address!r} is not an email address: use the form risk@example.com.")
    return address


@dataclass(frozen=True)
class ApiRoot:
    """An API root split into the URL we show and write (no credentials) and the credentials we send."""

    url: str
    auth: tuple[str, str] | None = field(default=None, repr=False)


def parse_api_root(value) -> ApiRoot:
    """http(s)://host[:port][/path]: a valid port, no query or fragment; user:password@ becomes basic auth."""
    text = _text("base URL", value).strip()
    shown = public_url(text)
    hint = "(KAIKO_BASE_URL or --base-url), e.g. https://eu.market-api.kaiko.io"
    parts = urlsplit(text)
    try:
        port_ok = parts.port != 0
    except ValueError:
        port_ok = False
    if not port_ok:
        raise ConfigError(f"base URL {shown!r} is not usable: its port is not from 1 to 65535 {hint}.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {shown!r} is not an http(s) URL {hint}.")
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {shown!r} must not carry a query or fragment: the API key "
                          "travels in a header, set it with KAIKO_API_KEY.")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
    return ApiRoot(shown.rstrip("/"), auth)


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment: what may be shown, logged or written."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # user-info ends at the last "@" of the authority
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def load_config_file(path: Path, *, required: bool = False) -> dict:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path} does not exist: check --config.")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path} ({(exc.strerror or str(exc)).lower()}): "
                          "check --config and its permissions.") from None
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{path} has unknown key(s): {', '.join(unknown)}; "
            f"known keys are {', '.join(sorted(CONFIG_KEYS))}."
        )
    for name in NUMBERS:
        if isinstance(data.get(name), str):  # flags and the environment are text; TOML has numbers
            hint = "drop the quotes" if _numeric(data[name]) else "write a number, without quotes"
            raise ConfigError(f"{name} in {path} must be a number, got {data[name]!r}: {hint}.")
    return data


def resolve(
    flags: dict, environ: dict, config_path: Path | None = None, *, config_required: bool = False
) -> Settings:
    """Merge flags > environment > liqreport.toml > defaults into one validated Settings."""
    config_path = config_path or Path(CONFIG_FILE)
    file_values = load_config_file(config_path, required=config_required)
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
    region = _text("region", merged.get("region", "us")).lower()
    if region not in REGIONS:
        raise ConfigError(f"region {region!r} is not supported: use us or eu (KAIKO_REGION or --region).")
    values["region"] = region
    if merged.get("base_url"):
        root = parse_api_root(merged["base_url"])
        values["base_url"], values["api_auth"] = root.url, root.auth
    if "assets" in merged:
        values["assets"] = parse_assets(merged["assets"])
    values["interval"] = validate_interval(_text("interval", merged.get("interval", "1h")))
    if "output_dir" in merged:
        output_dir = _text("output_dir", merged["output_dir"]) if not isinstance(merged["output_dir"], Path) \
            else str(merged["output_dir"])
        if not output_dir.strip():
            raise ConfigError("output_dir must not be empty: give a folder, e.g. output.")
        values["output_dir"] = Path(output_dir)
    for name, (kind, low, high) in NUMBERS.items():
        if name in merged:
            from_flag = name in FLAG_OF and flags.get(name) is not None  # else from liqreport.toml
            label = f"{name} ({FLAG_OF[name]})" if from_flag else f"{name} in {config_path}"
            values[name] = typed_number(label, merged[name], kind, low, high)
    values["no_demo"] = bool(merged.get("no_demo", False))
    values["wait_for_lock"] = bool(merged.get("wait_for_lock", False))
    if "email_to" in merged:
        values["email_to"] = tuple(dict.fromkeys(
            validate_email(address) for address in _text_list("email_to", merged["email_to"],
                                                               'addresses, e.g. ["risk@example.com"]')))
    if merged.get("site_url"):
        site_url = _text("site_url", merged["site_url"]).strip()
        if "@" in urlsplit(site_url).netloc:
            raise ConfigError(f"site_url {public_url(site_url)!r} must not carry credentials "
                              "(user:password@): the email shows it to every recipient.")
        if not re.match(r"^https?://[^\s/@?#]+(/[^\s?#]*)?$", site_url):
            raise ConfigError(f"site_url {public_url(site_url)!r} is not a plain http(s) URL, e.g. "
                              "https://reports.example.com/liquidations (no credentials, no query).")
        values["site_url"] = site_url.rstrip("/")
    if "price" in merged:
        values["price"] = parse_price(merged["price"])
    security = (environ.get("SMTP_SECURITY") or "starttls").lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(f"SMTP_SECURITY {security!r} is not supported: use starttls, ssl or none.")
    sender = environ.get("SMTP_FROM") or None
    values["smtp"] = SmtpSettings(
        host=environ.get("SMTP_HOST") or None,
        port=typed_number("SMTP_PORT", environ.get("SMTP_PORT", "587"), int, 1, 65535),
        user=environ.get("SMTP_USER") or None,
        password=environ.get("SMTP_PASSWORD") or None,
        sender=validate_email(sender, "SMTP_FROM") if sender else None,
        security=security,
    )
    settings = Settings(**values)
    if settings.no_demo and settings.api_key is None:
        raise ConfigError(
            "no API key: set KAIKO_API_KEY (or drop --no-demo to run on the built-in simulator)."
        )
    return settings


def package_folder(package: str) -> Path:
    """sql/ and templates/ are the data packages report.sql and report.templates (pyproject.toml): found the
    same way in an editable install (the repository's folders) and a wheel (inside site-packages)."""
    return Path(str(importlib.resources.files(package)))


SQL_DIR = package_folder("report.sql")
TEMPLATES_DIR = package_folder("report.templates")


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
