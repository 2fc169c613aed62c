"""Errors of the schema migrations: bad files, a history that disagrees, failed SQL (S4.2)."""

from __future__ import annotations


class MigrationError(Exception):
    """Root of the migration errors; none escapes as a psycopg exception."""


class MigrationFileError(MigrationError):
    """The migration files break a naming or pairing rule; nothing was applied."""


class MalformedMigrationNameError(MigrationFileError):
    """A .sql file is not named ``NNNN_name.up.sql`` or ``NNNN_name.down.sql``."""


class MissingDownMigrationError(MigrationFileError):
    """An ``.up.sql`` file has no ``.down.sql`` partner (every migration must be reversible)."""


class MissingUpMigrationError(MigrationFileError):
    """A ``.down.sql`` file has no ``.up.sql`` partner."""


class DuplicateMigrationVersionError(MigrationFileError):
    """Two migrations share one version number."""


class MigrationHistoryError(MigrationError):
    """The versions applied to the database disagree with the files; nothing was applied."""


class MigrationChecksumMismatchError(MigrationHistoryError):
    """An applied migration's ``.up.sql`` changed since it was applied."""


class UnknownAppliedMigrationError(MigrationHistoryError):
    """The database has a version applied that no file exists for."""


class OutOfOrderMigrationError(MigrationHistoryError):
    """A pending migration is older than the newest applied one."""


class MigrationFailedError(MigrationError):
    """A migration's SQL failed; its transaction, bookkeeping row included, was rolled back."""


class MigrationDatabaseError(MigrationError):
    """PostgreSQL refused a bookkeeping statement (permissions, a broken catalogue)."""


class MigrationDatabaseUnavailableError(MigrationDatabaseError):
    """PostgreSQL could not be reached or the connection broke; retrying later may succeed."""
