"""Settings: one pydantic model per concern, merged defaults < TOML file < secrets < env < flags.

Environment variables use the prefix `LEDGER_` and `__` between levels
(`LEDGER_DATABASE__URL`); a secrets directory holds one file per secret named like its
variable (`ledger_upbit__secret_key`). Secrets are `SecretStr`, never printed.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources import NestedSecretsSettingsSource

from api.redaction import redact_url

DEFAULT_CONFIG_FILE = Path("ledger.toml")
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "token", "xxx", "your-key", "todo"}
)

_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "ledger_config_file", default=None
)


class ConfigError(Exception):
    """The configuration is malformed; the message names the setting, value and rule."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user:pass@host:port/db); "
        "unset = embedded PostgreSQL under <data_dir>/pg",
    )
    schema_name: str = Field("ledger", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    pool_size: int = Field(5, ge=1, le=100)
    max_overflow: int = Field(10, ge=0, le=100)
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    embedded_fsync: bool = Field(
        True,
        description="Whether the embedded PostgreSQL flushes its writes to disk (fsync). Turn "
        "it off only for throwaway data (tests, demos): a crash of the server or of the ledger "
        "loses nothing either way, but an operating-system crash or a power loss can then "
        "corrupt the log. Read when the server starts.",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL")
        if value is not None:
            from psycopg import ProgrammingError
            from psycopg.conninfo import conninfo_to_dict

            try:
                conninfo_to_dict(value.get_secret_value())
            except ProgrammingError:  # its message may quote the password: never shown
                raise ValueError(
                    "is not a URL libpq can read: percent-encode spaces and special characters "
                    "in the user, password and options"
                ) from None
        return value


class NatsSettings(_Section):
    url: str | None = Field(
        None, description="NATS URL (nats://host:port); unset = embedded server under <data_dir>"
    )
    stream: str = Field("LEDGER", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    projector_linger_ms: int = Field(
        50,
        ge=0,
        le=2000,
        description="After a short batch a projector waits this long for more events before "
        "it fetches again: fewer, larger transactions, at the price of read models trailing "
        "the log by up to this much more (0: fetch at once)",
    )

    @field_validator("url")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("nats://", "tls://")):
            raise ValueError("must be a nats:// or tls:// URL")
        return value


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="address the HTTP API binds to")
    port: int = Field(8000, ge=1, le=65535)
    token: SecretStr | None = Field(None, description="bearer token the command API requires")
    cursor_key: SecretStr | None = Field(
        None,
        min_length=32,
        description="key that signs page cursors (32+ characters; the same on every replica); "
        "unset = derived from api.token, else database.url",
    )

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        secret = value.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 16:
            raise ValueError("must be a real token of at least 16 characters, not a placeholder")
        return value


class UpbitSettings(_Section):
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    rest_url: str = Field("https://api.upbit.com", pattern=r"^https?://")
    websocket_url: str = Field("wss://api.upbit.com/websocket/v1", pattern=r"^wss?://")


class TradingSettings(_Section):
    account: str = Field("main", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    markets: tuple[str, ...] = Field(("KRW-BTC",), min_length=1)
    fee_rate: Decimal = Field(Decimal("0.0005"), ge=0, lt=Decimal("0.01"))
    strategies: tuple[str, ...] = Field(
        ("volatility_breakout", "grid", "turtle"),
        min_length=1,
        description="the strategies a trading run (`ledger run`) trades",
    )
    params: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="strategy parameters, e.g. [trading.params.grid] levels = '12'",
    )
    capital_krw: Decimal = Field(
        Decimal("10000000"), gt=0, description="KRW a new run allocates to each strategy"
    )
    slippage_bps: Decimal = Field(Decimal(0), ge=0, description="paper fills: market slippage")
    max_participation: Decimal | None = Field(
        None, gt=0, le=1, description="paper fills: most of a candle's volume one order takes"
    )

    @field_validator("markets")
    @classmethod
    def _krw_markets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not code.startswith("KRW-") or code != code.upper():
                raise ValueError(f"market {code!r} is not an upper-case KRW market like KRW-BTC")
        return value


class Settings(BaseSettings):
    """The whole configuration of one ledger process."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGER_",
        env_nested_delimiter="__",
        secrets_nested_delimiter="__",
        secrets_dir_missing="error",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    env: str = Field("dev", pattern=r"^[a-z][a-z0-9-]{0,31}$", description="NATS subject prefix")
    data_dir: Path = Field(Path(".ledger"), description="embedded servers' data and logs")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    database: DatabaseSettings = DatabaseSettings()
    nats: NatsSettings = NatsSettings()
    api: ApiSettings = ApiSettings()
    upbit: UpbitSettings = UpbitSettings()
    trading: TradingSettings = TradingSettings()

    @field_validator("data_dir")
    @classmethod
    def _a_directory(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("it is a file, not a directory")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            NestedSecretsSettingsSource(file_secret_settings),
        ]
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def load_settings(
    *,
    config_file: Path | None = None,
    secrets_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Return the merged settings: defaults < TOML file < secrets dir < env < `overrides`.

    `config_file` None means ./ledger.toml when it exists. `overrides` are the CLI flags, as
    nested dicts (`{"database": {"url": ...}}`).

    Raises:
        ConfigError: a file is missing or malformed, or a value breaks its rule.
    """
    path = config_file if config_file is not None else DEFAULT_CONFIG_FILE
    if config_file is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        try:
            _refuse_file_secrets(tomllib.loads(path.read_text(encoding="utf-8")), path)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise ConfigError(f"secrets directory {secrets_dir} does not exist")
    token = _config_file.set(path if path.is_file() else None)
    try:
        kwargs: dict[str, Any] = dict(overrides or {})
        if secrets_dir is not None:
            kwargs["_secrets_dir"] = secrets_dir
        return Settings(**kwargs)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, path)) from None
    except SettingsError as error:
        raise ConfigError(_describe_unparsable(error)) from None
    finally:
        _config_file.reset(token)


def describe_validation_error(error: ValidationError, config_file: Path) -> str:
    """Return one line per broken rule, naming the setting, its value and where to set it."""
    lines = []
    for problem in error.errors():
        dotted = ".".join(str(part) for part in problem["loc"])
        env_name = "LEDGER_" + "__".join(str(p).upper() for p in problem["loc"])
        value = problem.get("input")
        value = str(value) if isinstance(value, Path) else value
        if isinstance(value, str) and "://" in value:
            value = redact_url(value, bare_user_is_secret=True)
        shown = "(hidden)" if _holds_secret(dotted) else repr(value)
        rule = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            lines.append(f"unknown setting {dotted!r} (check the spelling in {config_file} or env)")
        else:
            lines.append(
                f"setting {dotted} = {shown} is invalid: {rule} (set by {env_name} "
                f"or [{'.'.join(dotted.split('.')[:-1]) or 'top level'}] in {config_file})"
            )
    return "; ".join(lines)


SECRET_SETTINGS = frozenset(
    {"database.url", "api.token", "api.cursor_key", "upbit.access_key", "upbit.secret_key"}
)
"""Settings never printed in clear (a database URL may carry a password)."""


FILE_SECRETS_ALLOWED = frozenset({"database.url"})
"""Secret settings the TOML file may hold (a database URL, as long as it carries no password)."""


def secret_settings() -> frozenset[str]:
    """Return every secret setting: those listed above and every `SecretStr` field."""
    found = set(SECRET_SETTINGS)
    for name, info in Settings.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for key, field in section.model_fields.items():
                if field.annotation is SecretStr or SecretStr in get_args(field.annotation):
                    found.add(f"{name}.{key}")
    return frozenset(found)


def _holds_secret(dotted: str) -> bool:
    # A whole section (`LEDGER_API='{...}'`) holds its secrets; so does a part of a secret.
    return any(
        dotted == s or s.startswith(dotted + ".") or dotted.startswith(s + ".")
        for s in secret_settings()
    )


def _refuse_file_secrets(data: dict[str, Any], config_file: Path) -> None:
    """Refuse a secret in the TOML file: secrets come from the environment or secrets dir."""
    for dotted in sorted(secret_settings()):
        section, key = dotted.split(".", 1)
        values = data.get(section)
        if not isinstance(values, dict) or key not in values:
            continue
        where = (
            f"set it in the environment (LEDGER_{section.upper()}__{key.upper()}) or in the "
            f"secrets directory (--secrets-dir, file ledger_{section}__{key})"
        )
        if dotted not in FILE_SECRETS_ALLOWED:
            raise ConfigError(
                f"setting {dotted} is a secret and is not read from the config file "
                f"{config_file}: {where}"
            )
        text = values[key]
        if isinstance(text, str) and redact_url(text) != text:
            raise ConfigError(
                f"setting {dotted} in the config file {config_file} carries a password, which "
                f"is not read from the config file: {where}"
            )


def _describe_unparsable(error: SettingsError) -> str:
    """Name the environment variable whose list or section is not JSON, never its value."""
    found = re.search(r'field "([^"]+)"', str(error))
    field = found.group(1) if found else "?"
    for name, text in sorted(os.environ.items()):
        path = name.lower().removeprefix("ledger_").split("__")
        if not name.upper().startswith("LEDGER_") or path[0] != field:
            continue
        annotation = _annotation(path)
        if annotation is None or not _is_structured(annotation):
            continue
        try:
            json.loads(text)
        except ValueError:
            dotted = ".".join(path)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                example = f'{name}=\'{{"key": "value"}}\', or one key as {name}__KEY=value'
            elif _holds_secret(dotted):
                example = f"{name}='[\"...\"]'"
            else:
                items = [item.strip() for item in text.split(",") if item.strip()]
                example = f"{name}='{json.dumps(items)}'"
            return (
                f"{name} is not valid JSON: a list or a section set in the environment is "
                f"written as JSON, e.g. {example}"
            )
    return (
        f"a value given for setting {field!r} is not valid JSON: a list or a section set in "
        "the environment or the secrets directory is written as JSON"
    )


def _annotation(path: list[str]) -> Any:
    model: Any = Settings
    annotation: Any = None
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        annotation = model = info.annotation
    return annotation


def _is_structured(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return get_origin(annotation) in (tuple, list, dict, set, frozenset)


def redacted(settings: Settings) -> dict[str, Any]:
    """Return the settings as plain data with every secret replaced by a marker."""
    data = settings.model_dump(mode="json")
    url = settings.database.url
    if url is not None:
        data["database"]["url"] = redact_url(url.get_secret_value())
    if settings.nats.url is not None:
        data["nats"]["url"] = redact_url(settings.nats.url, bare_user_is_secret=True)
    return data
