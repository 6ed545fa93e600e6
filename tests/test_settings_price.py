"""Price settings in liqreport.toml: `price = false`, `[price.<asset>]` over the defaults, one-line errors."""

from pathlib import Path

import pytest

from report.errors import ConfigError
from report.settings import DEMO_ASSETS, PriceInstrument, resolve


def settings_from(tmp_path: Path, text: str):
    path = tmp_path / "liqreport.toml"
    path.write_text(text)
    return resolve({}, {}, path)


def test_by_default_every_demo_asset_has_a_binance_usdt_perpetual(tmp_path):
    price = resolve({}, {}, tmp_path / "absent.toml").price
    assert price.enabled
    assert [price.instrument_for(asset) for asset in DEMO_ASSETS] == [
        PriceInstrument(asset, "binc", "perpetual-future", f"{asset}-usdt") for asset in DEMO_ASSETS]
    assert price.instrument_for("btc").path == "binc/perpetual-future/btc-usdt"
    assert price.instrument_for("ada") is None  # no default: the report goes without price for it


def test_price_false_turns_price_off_for_every_asset(tmp_path):
    price = settings_from(tmp_path, "price = false\n").price
    assert not price.enabled and all(price.instrument_for(asset) is None for asset in DEMO_ASSETS)
    assert settings_from(tmp_path, "price = true\n").price.instrument_for("btc") is not None


def test_an_asset_table_overrides_only_the_keys_it_gives_and_adds_new_assets(tmp_path):
    price = settings_from(tmp_path, """
[price.btc]
instrument = "btc-usdc"

[price.ada]
exchange = "okex"
instrument_class = "perpetual-future"
instrument = "ada-usdt"
""").price
    assert price.instrument_for("btc") == PriceInstrument("btc", "binc", "perpetual-future", "btc-usdc")
    assert price.instrument_for("ada") == PriceInstrument("ada", "okex", "perpetual-future", "ada-usdt")
    assert price.instrument_for("eth") == PriceInstrument("eth", "binc", "perpetual-future", "eth-usdt")


def test_asset_false_removes_its_reference_instrument(tmp_path):
    price = settings_from(tmp_path, "[price]\ndoge = false\n\n[price.btc]\nexchange = \"bbit\"\n").price
    assert price.instrument_for("doge") is None
    assert price.instrument_for("btc").exchange == "bbit" and price.instrument_for("eth") is not None


@pytest.mark.parametrize(("text", "message"), [
    ('price = "yes"\n', "price must be true, false or [price.<asset>] tables, got 'yes'."),
    ("price = 1\n", "price must be true, false or [price.<asset>] tables, got 1."),
    ('[price]\nbtc = "binc"\n', "[price.btc] must be a table of exchange, instrument_class, instrument"),
    ('[price.btc]\ninstrumnet = "btc-usdt"\n',
     "[price.btc] has unknown key(s): instrumnet; use exchange, instrument_class, instrument."),
    ("[price.btc]\ninstrument = 5\n", "[price.btc] instrument = 5 is not a Kaiko code"),
    ('[price.btc]\ninstrument = "BTC USDT"\n', "[price.btc] instrument = 'BTC USDT' is not a Kaiko code"),
    ('[price.btc]\ninstrument_class = "perp"\n',
     "[price.btc] instrument_class = 'perp' is not one of spot, future, perpetual-future, option."),
    ('[price.ada]\ninstrument = "ada-usdt"\n',
     "[price.ada] needs exchange, instrument_class: ada has no default instrument"),
    ('[price.BTC]\ninstrument = "btc-usdt"\n', "[price.BTC] does not name an asset code"),
])
def test_bad_price_settings_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
