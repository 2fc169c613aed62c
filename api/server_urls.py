"""Where the servers are: the configured URLs, else the embedded servers under the data dir.

`ledger services up` starts the embedded servers; a command that needs one and may start it
does so here, exactly as that command would.
"""

from __future__ import annotations

from adapters.embedded.services import EmbeddedServices
from api.settings import Settings


class ServiceUnavailableError(Exception):
    """A server the command needs is not running or not reachable (exit code 3)."""


def embedded_services(settings: Settings) -> EmbeddedServices:
    """Return the embedded servers under the data dir, started as the settings say."""
    options = {} if settings.database.embedded_fsync else {"fsync": "off"}
    return EmbeddedServices(settings.data_dir, postgres_options=options)


def database_conninfo(settings: Settings, *, start_embedded: bool = True) -> str:
    """Return the libpq URL of the database: the configured one, else the embedded server.

    With no `database.url`, the embedded PostgreSQL under `<data_dir>/pg` is started when it
    is not running (`start_embedded`), exactly as `ledger services up` would, and reached
    over its Unix socket.

    Raises:
        ServiceUnavailableError: the embedded server is not running and may not be started.
    """
    if settings.database.url is not None:
        return settings.database.url.get_secret_value()
    services = embedded_services(settings)
    if start_embedded:
        services.up(postgres=True, nats=False)
    endpoint = services.postgres.endpoint()
    if endpoint is None:
        raise ServiceUnavailableError(
            f"the embedded PostgreSQL under {settings.data_dir / 'pg'} is not running; "
            "start it with `ledger services up`, or set LEDGER_DATABASE__URL"
        )
    # The local socket saves the TCP stack on every round trip (measured in benchmarks.md).
    return endpoint.socket_url()


def nats_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """Return the NATS URL: the configured one, else the embedded server's (started if asked).

    Raises:
        ServiceUnavailableError: the embedded server is not running and may not be started.
    """
    if settings.nats.url is not None:
        return settings.nats.url
    services = embedded_services(settings)
    if start_embedded:
        services.up(postgres=False, nats=True)
    endpoint = services.nats.endpoint()
    if endpoint is None:
        raise ServiceUnavailableError(
            f"the embedded NATS server under {settings.data_dir / 'nats'} is not running; start "
            "it with `ledger services up`, or set LEDGER_NATS__URL"
        )
    return endpoint.url
