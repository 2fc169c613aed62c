"""Processes that start together on a fresh schema (ledger run, relay, projectors, a status
query) set it up in turn: no "tuple concurrently updated" from concurrent DDL."""

from __future__ import annotations

from urllib.parse import quote

from api.bootstrap import bootstrap, migrator
from api.settings import load_settings
from commands.trading import Trading
from tests.at_once import errors_at_once
from tests.integration.conftest import PgTarget


def test_eight_processes_bootstrapping_a_fresh_schema_at_once_all_succeed(
    pg_schema: PgTarget,
) -> None:
    secret = f":{pg_schema.password}" if pg_schema.password else ""
    where = (
        f"/{pg_schema.dbname}?host={quote(pg_schema.host, safe='')}&port={pg_schema.port}"
        if pg_schema.host.startswith("/")
        else f"{pg_schema.host}:{pg_schema.port}/{pg_schema.dbname}"
    )
    url = f"postgresql://{pg_schema.user}{secret}@{where}"
    schema = f"{pg_schema.schema}_fresh"
    settings = load_settings(overrides={"database": {"url": url, "schema_name": schema}})

    def process() -> None:
        system = bootstrap(settings)
        try:
            migrator(settings).up()
        finally:
            system.close()

    assert errors_at_once([process] * 8) == []


def test_eight_processes_opening_the_log_of_a_set_up_schema_at_once_all_succeed(
    pg_schema: PgTarget,
) -> None:
    # Given a schema whose log exists (a `ledger run` opens its run's log beside others)
    Trading(pg_schema.eventsourcing_env()).close()

    # When eight processes open it at once (the library's CREATE OR REPLACE FUNCTION included)
    errors = errors_at_once([lambda: Trading(pg_schema.eventsourcing_env()).close()] * 8)

    # Then none fails with "tuple concurrently updated"
    assert errors == []
