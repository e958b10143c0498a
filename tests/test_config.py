"""Configuration: typed settings, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from socmed.config import ConfigError, load_settings, parse_date, resolve_token

GOOD = """
[pipeline]
data_dir = "out"
[platforms.instagram]
base_url = "http://127.0.0.1:9999/"
token_env = "SOCMED_TEST_TOKEN"
[[channels]]
platform = "instagram"
handle = "@tangerangkota"
account_id = "17841401000000001"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "socmed.toml"
    path.write_text(text)
    return path


def test_good_config_is_typed_and_resolved(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    channel = settings.channels[0]
    assert (channel.key, channel.timezone) == ("instagram/@tangerangkota", "Asia/Jakarta")
    assert settings.platform("instagram").base_url == "http://127.0.0.1:9999"
    assert settings.pipeline.data_dir == (tmp_path / "out").resolve()
    assert settings.warehouse_url() == f"sqlite:///{(tmp_path / 'out' / 'warehouse.db').resolve()}"
    assert settings.token_source(channel).describe() == "environment variable SOCMED_TEST_TOKEN"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('platform = "instagram"', 'platform = "instagrm"'),
            "channels[0].platform: unknown platform 'instagrm' (supported: instagram, ",
        ),
        (('token_env = "SOCMED_TEST_TOKEN"', ""), "channels[0].token_env: no token source"),
        (
            ("http://127.0.0.1:9999/", "ftp://example.org"),
            "platforms.instagram.base_url: not an http(s) URL: 'ftp://example.org'",
        ),
        (
            ("http://127.0.0.1:9999/", "https://user:pw@example.org"),
            "platforms.instagram.base_url: must not contain a password",
        ),
        (
            ('account_id = "17841401000000001"', 'account_id = "1"\ntimezone = "Asia/Jakartaa"'),
            "channels[0].timezone: unknown time zone 'Asia/Jakartaa'",
        ),
        (
            ('handle = "@tangerangkota"', 'handle = "@tangerangkota"\ntoken = "abc"'),
            "channels[0].token: Extra inputs are not permitted",
        ),
        (
            ("[platforms.instagram]", "[platforms.myspace]\n[platforms.instagram]"),
            "platforms.myspace: unknown platform",
        ),
        (('data_dir = "out"', 'data_dir = "out'), "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_settings(tmp_path / "nope.toml")


def test_missing_token_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    monkeypatch.delenv("SOCMED_TEST_TOKEN", raising=False)
    source = settings.token_source(settings.channels[0])
    with pytest.raises(ConfigError, match="environment variable SOCMED_TEST_TOKEN is not set"):
        resolve_token(source, "socmed.toml: channel instagram/@tangerangkota")
    monkeypatch.setenv("SOCMED_TEST_TOKEN", "tok-123456")
    token = resolve_token(source, "x")
    assert token.get_secret_value() == "tok-123456"
    assert "tok-123456" not in repr(token)


def test_bad_date_names_option() -> None:
    with pytest.raises(ConfigError, match=r"--since: bad date '2026-13-01' \(expected YYYY-MM-DD\)"):
        parse_date("2026-13-01", "--since")


def test_the_example_configuration_loads_with_every_section() -> None:
    example = Path(__file__).resolve().parents[1] / "socmed.example.toml"
    settings = load_settings(example)
    assert [c.platform for c in settings.channels] == ["instagram", "instagram", "website", "manual"]
    assert settings.campaigns[0].hashtags == ["carfreeday", "cfdtangerang"]
    assert (settings.webhooks.port, settings.notifications.url_env) == (8780, "SOCMED_NOTIFY_URL")
    assert settings.housekeeping.raw_retention_days is None
