"""The e2e tier's embedded PostgreSQL keeps throwaway data: started without fsync, as asked."""

from __future__ import annotations

import psycopg

from tests.e2e.conftest import Cli


def test_a_data_dir_whose_settings_turn_fsync_off_runs_its_postgresql_without_it(
    cli: Cli,
) -> None:
    # Given the tier's environment (`LEDGER_DATABASE__EMBEDDED_FSYNC=false`, tests/e2e/conftest)
    # When `ledger services up` has started the data dir's PostgreSQL
    url = cli.postgres_url()
    # Then the server runs without fsync, and with every other durability setting as default
    with psycopg.connect(url, connect_timeout=10) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"
            ).fetchall()
        )
    assert settings == {"fsync": "off", "synchronous_commit": "on", "full_page_writes": "on"}
