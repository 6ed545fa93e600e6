"""Configuration precedence (flags > environment > liqreport.toml > defaults) and validation."""

from pathlib import Path

import pytest

from report.errors import ConfigError
from report.settings import DEMO_ASSETS, interval_hours, resolve, validate_asset, validate_interval


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "liqreport.toml"
    path.write_text(text)
    return path


def test_defaults_run_on_the_simulator_with_demo_assets(tmp_path):
    settings = resolve({}, {}, tmp_path / "absent.toml")
    assert settings.demo
    assert settings.assets == DEMO_ASSETS
    assert settings.api_root == "https://us.market-api.kaiko.io"
    assert settings.interval == "1h"


def test_flags_beat_environment_beat_config_file(tmp_path):
    config = write_config(tmp_path, 'region = "eu"\nassets = ["btc"]\noutput_dir = "from-file"\n')
    from_file = resolve({}, {}, config)
    assert (from_file.region, from_file.assets, str(from_file.output_dir)) == ("eu", ("btc",), "from-file")

    from_env = resolve({}, {"KAIKO_REGION": "us"}, config)
    assert from_env.region == "us"
    assert from_env.api_root == "https://us.market-api.kaiko.io"

    from_flags = resolve({"region": "eu", "assets": "eth,sol"}, {"KAIKO_REGION": "us"}, config)
    assert from_flags.region == "eu"
    assert from_flags.assets == ("eth", "sol")


def test_base_url_override_and_api_key_from_environment(tmp_path):
    key = "sk-distinct-4f1e"
    settings = resolve({}, {"KAIKO_BASE_URL": "http://127.0.0.1:9/", "KAIKO_API_KEY": key}, tmp_path / "x")
    assert settings.api_root == "http://127.0.0.1:9"
    assert settings.api_key == key
    assert not settings.demo
    assert key not in repr(settings)


def test_unknown_config_keys_are_an_error_that_names_them(tmp_path):
    config = write_config(tmp_path, 'assets = ["btc"]\nasets = ["eth"]\napi_key = "secret"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\): api_key, asets"):
        resolve({}, {}, config)


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve({}, {}, write_config(tmp_path, "assets = [btc\n"))


@pytest.mark.parametrize("code", ["../etc", "BTC", "a/b", "", "btc eth", "x" * 33, ".hidden", "-btc"])
def test_asset_codes_that_are_not_codes_are_refused(code):
    with pytest.raises(ConfigError):
        validate_asset(code)


@pytest.mark.parametrize("code", ["btc", "eth", "1inch", "usdt_e", "shib-2"])
def test_asset_codes_are_accepted(code):
    assert validate_asset(code) == code


@pytest.mark.parametrize("interval, hours", [("1h", 1), ("4h", 4), ("24h", 24), ("1d", 24), ("12h", 12)])
def test_intervals_from_one_hour_to_one_day(interval, hours):
    assert interval_hours(interval) == hours


@pytest.mark.parametrize("interval", ["0h", "25h", "90m", "2d", "1w", "h", "01h", ""])
def test_other_intervals_are_refused(interval):
    with pytest.raises(ConfigError, match="interval"):
        validate_interval(interval)


def test_no_demo_without_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="KAIKO_API_KEY"):
        resolve({"no_demo": True}, {}, tmp_path / "x")


def test_page_size_above_the_api_maximum_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"from 1 to 1000, got 5000"):
        resolve({}, {}, write_config(tmp_path, "page_size = 5000\n"))


def test_region_must_be_us_or_eu(tmp_path):
    with pytest.raises(ConfigError, match="us or eu"):
        resolve({}, {"KAIKO_REGION": "asia"}, tmp_path / "x")


def test_smtp_security_typo_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="starttls, ssl or none"):
        resolve({}, {"SMTP_SECURITY": "tsl"}, tmp_path / "x")


def test_site_url_from_config_file(tmp_path):
    settings = resolve({}, {}, write_config(tmp_path, 'site_url = "https://reports.example.com/liq/"\n'))
    assert settings.site_url == "https://reports.example.com/liq"
