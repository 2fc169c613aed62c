"""Settings: precedence defaults < TOML file < secrets dir < environment < flags; clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from api.settings import ConfigError, load_settings, redacted


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("LEDGER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./ledger.toml unless a test writes one


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_with_nothing_configured_use_the_documented_defaults() -> None:
    settings = load_settings()
    assert settings.database.url is None
    assert settings.database.schema_name == "ledger"
    assert settings.nats.url is None
    assert settings.api.host == "127.0.0.1"
    assert settings.trading.markets == ("KRW-BTC",)
    assert settings.trading.fee_rate == Decimal("0.0005")
    assert settings.data_dir == Path(".ledger")
    assert settings.database.embedded_fsync is True  # durable unless turned off


def test_an_embedded_postgresql_without_fsync_is_asked_for_by_name_and_a_bad_value_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE__EMBEDDED_FSYNC", "false")
    assert load_settings().database.embedded_fsync is False
    monkeypatch.setenv("LEDGER_DATABASE__EMBEDDED_FSYNC", "sometimes")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "database.embedded_fsync" in str(error.value), error.value


def test_settings_each_source_overrides_the_one_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same setting in a file, a secrets dir, the environment and a flag
    config = write(
        tmp_path / "c.toml",
        '[api]\nport = 8001\n[database]\npool_size = 2\nschema_name = "from_file"\n',
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "ledger_api__token", "secret-token-0123456789")
    write(secrets / "ledger_database__pool_size", "3")
    monkeypatch.setenv("LEDGER_DATABASE__POOL_SIZE", "4")
    monkeypatch.setenv("LEDGER_API__PORT", "8004")
    # When they are merged with a flag for the port
    settings = load_settings(
        config_file=config, secrets_dir=secrets, overrides={"api": {"port": 8005}}
    )
    # Then flags > env > secrets > file > defaults, one setting at a time
    assert settings.api.port == 8005
    assert settings.database.pool_size == 4
    assert settings.api.token is not None
    assert settings.api.token.get_secret_value() == "secret-token-0123456789"
    assert settings.database.schema_name == "from_file"
    assert settings.database.max_overflow == 10


def test_settings_read_ledger_toml_in_the_working_directory_by_default() -> None:
    write(Path("ledger.toml"), 'env = "paper"\n')
    assert load_settings().env == "paper"


def test_settings_with_a_malformed_env_value_name_the_setting_and_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE__POOL_SIZE", "abc")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "setting database.pool_size = 'abc' is invalid" in str(error.value)
    assert "LEDGER_DATABASE__POOL_SIZE" in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[database\n", "is not valid TOML"),
        ("[database]\npol_size = 3\n", "unknown setting 'database.pol_size'"),
        ('[trading]\nmarkets = ["BTC-ETH"]\n', "market 'BTC-ETH' is not an upper-case KRW"),
        ('[database]\nurl = "mysql://x"\n', "must be a postgresql:// URL"),
        ('[nats]\nurl = "http://x"\n', "must be a nats:// or tls:// URL"),
        ("[nats]\nprojector_linger_ms = 5000\n", "nats.projector_linger_ms = 5000 is invalid"),
        ('env = "Prod Env"\n', "setting env = 'Prod Env' is invalid"),
    ],
)
def test_settings_from_a_bad_file_are_refused_with_the_rule(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=None) as error:
        load_settings(config_file=config)
    assert expected in str(error.value)


def test_settings_refuse_a_missing_config_file_or_secrets_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="secrets directory .* does not exist"):
        load_settings(secrets_dir=tmp_path / "none")


@pytest.mark.parametrize("token", ["changeme", "short", "password"])
def test_settings_refuse_a_placeholder_api_token_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("LEDGER_API__TOKEN", token)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "api.token = (hidden)" in str(error.value)
    assert f"'{token}'" not in str(error.value)


def test_redacted_settings_hide_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE__URL", "postgresql://trader:hunter2@db:5432/ledger")
    monkeypatch.setenv("LEDGER_UPBIT__ACCESS_KEY", "upbit-access-abcdef")
    monkeypatch.setenv("LEDGER_UPBIT__SECRET_KEY", "upbit-secret-abcdef")
    monkeypatch.setenv("LEDGER_API__TOKEN", "a-real-token-0123456789")
    text = repr(redacted(load_settings()))
    for secret in ("hunter2", "upbit-access-abcdef", "upbit-secret-abcdef", "a-real-token"):
        assert secret not in text
    assert "postgresql://trader:**********@db:5432/ledger" in text


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        (
            "postgresql://db:5432/ledger?user=u&password=hunter2secret",
            "hunter2secret",
            "postgresql://db:5432/ledger?user=u&password=**********",
        ),
        (
            "postgresql://trader:hunter2secret@db:5432/ledger?sslmode=require",
            "hunter2secret",
            "postgresql://trader:**********@db:5432/ledger?sslmode=require",
        ),
        (
            "postgresql://trader:hunter2secret@h1:5432,h2:5433/ledger",
            "hunter2secret",
            "postgresql://trader:**********@h1:5432,h2:5433/ledger",
        ),
        (
            "postgresql:///ledger?host=/tmp&password=hunter2secret&sslpassword=keypass99",
            "hunter2secret",
            "postgresql:///ledger?host=/tmp&password=**********&sslpassword=**********",
        ),
        (
            "postgresql://db/ledger?pass%77ord=hunter2secret",
            "hunter2secret",
            "postgresql://db/ledger?pass%77ord=**********",
        ),
    ],
    ids=["query", "userinfo", "multi-host", "query-and-ssl", "percent-encoded-key"],
)
def test_redacted_settings_hide_a_database_password_in_every_url_form(
    monkeypatch: pytest.MonkeyPatch, url: str, secret: str, shown: str
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE__URL", url)
    data = redacted(load_settings())
    assert secret not in repr(data) and "keypass99" not in repr(data)
    assert data["database"]["url"] == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://ops:natspass99@nats:4222", "nats://ops:**********@nats:4222"),
        ("nats://s3cr3t-nats-token@nats:4222", "nats://**********@nats:4222"),
    ],
)
def test_redacted_settings_hide_nats_credentials_and_tokens(
    monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    monkeypatch.setenv("LEDGER_NATS__URL", url)
    assert redacted(load_settings())["nats"]["url"] == shown


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEDGER_API", '["tok-abcdefghijklmnopqrstuvwxyz"]'),
        ("LEDGER_API", '{"token": "tok-abcdefghijklmnopqrstuvwxyz", "port": 70000}'),
        ("LEDGER_API", '{"token": "tok-abcdefghijklmnopqrstuvwxyz'),
        ("LEDGER_UPBIT", '"tok-abcdefghijklmnopqrstuvwxyz"'),
        ("LEDGER_DATABASE__URL", "mysql://u:tok-abcdefghijklmnopqrstuvwxyz@db/ledger"),
        ("LEDGER_NATS__URL", "http://u:tok-abcdefghijklmnopqrstuvwxyz@nats:4222"),
    ],
    ids=["section-list", "section-bad-port", "section-bad-json", "section-string", "db", "nats"],
)
def test_a_malformed_value_holding_a_secret_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "tok-abcdefghijklmnopqrstuvwxyz" not in str(error.value)
    assert name.removeprefix("LEDGER_").split("__")[0].lower() in str(error.value).lower()


@pytest.mark.parametrize(
    ("section", "key"), [("api", "token"), ("upbit", "access_key"), ("upbit", "secret_key")]
)
def test_a_secret_in_the_config_file_is_refused_naming_where_it_may_come_from(
    tmp_path: Path, section: str, key: str
) -> None:
    config = write(tmp_path / "c.toml", f'[{section}]\n{key} = "file-secret-0123456789"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config_file=config)
    message = str(error.value)
    assert f"{section}.{key} is a secret and is not read from the config file {config}" in message
    assert f"LEDGER_{section.upper()}__{key.upper()}" in message
    assert f"ledger_{section}__{key}" in message
    assert "file-secret-0123456789" not in message


def test_a_config_file_that_is_not_text_is_refused_as_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "binary.toml"
    config.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match=r"config file .*binary.toml is not valid TOML"):
        load_settings(config_file=config)


def test_a_list_setting_in_the_environment_that_is_not_json_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_TRADING__MARKETS", "KRW-BTC")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "LEDGER_TRADING__MARKETS is not valid JSON" in message
    assert """LEDGER_TRADING__MARKETS='["KRW-BTC"]'""" in message


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    afile = write(tmp_path / "afile", "")
    with pytest.raises(ConfigError) as error:
        load_settings(overrides={"data_dir": afile})
    assert f"setting data_dir = {str(afile)!r} is invalid: it is a file, not a directory" in str(
        error.value
    )


def test_show_config_prints_a_database_url_with_its_query_password_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli.main import main

    url = "postgresql://db:5432/ledger?user=u&password=hunter2secret"
    code = main(["--database-url", url, "show-config"])

    out = capsys.readouterr().out
    assert code == 0
    assert "hunter2secret" not in out
    assert "postgresql://db:5432/ledger?user=u&password=**********" in out


def test_a_database_url_libpq_cannot_parse_is_refused_without_echoing_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # psycopg's own message quotes the password ("unexpected spaces found in 'hun ter2'")
    monkeypatch.setenv("LEDGER_DATABASE__URL", "postgresql://u:hun ter2@db:5432/ledger")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "setting database.url = (hidden) is invalid" in message
    assert "percent-encode" in message
    assert "hun ter2" not in message and "ter2" not in message
