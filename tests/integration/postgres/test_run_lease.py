"""A trading run is held by one process: its lease refuses a second holder and names the first,
is free at once when its holder's connection ends, and fences a holder that lost it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from adapters.postgres.migrator import Migrator
from adapters.postgres.run_lease import RunLease, run_lease_key
from commands.errors import RunHeldError, RunLeaseLostError
from commands.trading import Trading
from tests.integration.conftest import PgTarget
from tests.integration.postgres.advisory_locks import end_sessions_holding


@pytest.fixture
def migrated(pg_schema: PgTarget) -> Iterator[PgTarget]:
    Trading(pg_schema.eventsourcing_env()).close()  # the log, which the migrations extend
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    yield pg_schema


def lease(target: PgTarget, run_id: str = "paper-main", *, pid: int) -> RunLease:
    return RunLease(target.conninfo, target.schema, run_id, host="host-a", pid=pid)


def end_holding_session(target: PgTarget, run_id: str) -> None:
    """End the server session that holds the run's lock (its process died)."""
    assert end_sessions_holding(target.conninfo, run_lease_key(target.schema, run_id)) == 1


def test_a_second_process_is_refused_with_the_holder_named(migrated: PgTarget) -> None:
    first = lease(migrated, pid=111)
    holder = first.acquire()
    try:
        with pytest.raises(RunHeldError) as refused:
            lease(migrated, pid=222).acquire()
        message = str(refused.value)
        assert "run 'paper-main' is held by pid 111 on host-a since " in message
        assert f"{holder.since:%Y-%m-%d %H:%M:%S}" in message
        # And another run is not held
        other = lease(migrated, "paper-other", pid=222)
        other.acquire()
        other.release()
    finally:
        first.release()


def test_a_released_lease_is_taken_by_the_next_process_with_a_higher_token(
    migrated: PgTarget,
) -> None:
    first = lease(migrated, pid=111)
    token = first.acquire().token
    first.release()
    second = lease(migrated, pid=222)
    try:
        assert second.acquire().token == token + 1
        second.check()
    finally:
        second.release()


def test_a_holder_that_died_frees_the_run_at_once_and_is_fenced_if_it_comes_back(
    migrated: PgTarget,
) -> None:
    # Given a holder whose session the server ended, and a process that took the run over
    first = lease(migrated, pid=111)
    first.acquire()
    end_holding_session(migrated, "paper-main")
    second = lease(migrated, pid=222)
    try:
        assert second.acquire().token == 2
        # When the first holder is about to send, then it learns it lost the lease
        with pytest.raises(RunLeaseLostError, match="held by pid 222 on host-a"):
            first.check()
        second.check()
    finally:
        first.release()
        second.release()


def test_a_holder_whose_connection_ended_while_nobody_took_the_run_keeps_it(
    migrated: PgTarget,
) -> None:
    # Given a holder whose lease connection ended (a PostgreSQL restart) and nobody else
    first = lease(migrated, pid=111)
    first.acquire()
    end_holding_session(migrated, "paper-main")
    try:
        # When it checks before sending, then it holds the run again, with the same token
        first.check()
        assert first.holder is not None and first.holder.token == 1
        with pytest.raises(RunHeldError, match="held by pid 111"):
            lease(migrated, pid=222).acquire()
    finally:
        first.release()


def test_a_holder_whose_token_was_taken_is_fenced(migrated: PgTarget) -> None:
    first = lease(migrated, pid=111)
    first.acquire()
    try:
        with psycopg.connect(migrated.conninfo, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("UPDATE {} SET token = token + 1").format(
                    psycopg.sql.Identifier(migrated.schema, "run_leases")
                )
            )
        with pytest.raises(RunLeaseLostError, match="another process took the lease"):
            first.check()
    finally:
        first.release()
