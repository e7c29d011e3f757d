"""SQL on a target database (`TARGET_DATABASES`, by name): several statements in one
transaction, each bounded by the step's timeout. Our own connection, not Django's: the
target is the migrated system's database, never the control plane's."""

import sqlite3
import time
from contextlib import contextmanager

import psycopg
import sqlparse
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from controlplane.env import parse_database_url

from .base import StepFailed


def statements(sql: str) -> list[str]:
    """The statements of `sql`, split on `;` the way a SQL parser sees them (a `;` inside
    a string literal does not split)."""
    parts = [part.strip().rstrip(";").strip() for part in sqlparse.split(sql)]
    return [part for part in parts if part]


def target_url(database: str) -> str:
    targets = settings.TARGET_DATABASES
    if not database:
        raise StepFailed("an sql step needs `database:` naming one of TARGET_DATABASES")
    if database not in targets:
        known = ", ".join(sorted(targets)) or "none"
        raise StepFailed(f"database {database!r} is not in TARGET_DATABASES (known: {known})")
    return targets[database]


def run(database: str, sql: str, timeout: float) -> str:
    """Run every statement of `sql` in one transaction; returns what was done, in words."""
    parts = statements(sql)
    if not parts:
        raise StepFailed("the sql step has no statement")
    changed = 0
    with _transaction(database, timeout) as cursor:
        for number, statement in enumerate(parts, start=1):
            try:
                cursor.execute(statement)
            except (sqlite3.Error, psycopg.Error) as error:
                raise StepFailed(
                    f"statement {number} of {len(parts)} failed, the transaction was rolled back: {_says(error)}"
                ) from error
            changed += max(cursor.rowcount or 0, 0)
    plural = "s" if len(parts) != 1 else ""
    return f"{len(parts)} statement{plural} committed on {database}, {changed} row(s) changed"


def query_value(database: str, query: str, timeout: float):
    """The first column of the first row `query` returns (None when it returns no row)."""
    with _transaction(database, timeout) as cursor:
        try:
            cursor.execute(query)
            row = cursor.fetchone()
        except (sqlite3.Error, psycopg.Error) as error:
            raise StepFailed(f"the query failed: {_says(error)}") from error
    return None if row is None else row[0]


def _says(error: Exception) -> str:
    if isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted":
        return "it ran longer than the step's timeout and was interrupted"
    if isinstance(error, psycopg.errors.QueryCanceled):
        return "it ran longer than the step's timeout and was cancelled"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@contextmanager
def _transaction(database: str, timeout: float):
    url = target_url(database)
    try:
        config = parse_database_url(f"TARGET_DATABASES[{database}]", url)
    except ImproperlyConfigured as error:
        raise StepFailed(str(error)) from None
    if config["ENGINE"].endswith("sqlite3"):
        with _sqlite(config["NAME"], timeout) as cursor:
            yield cursor
    else:
        with _postgres(url, timeout) as cursor:
            yield cursor


@contextmanager
def _sqlite(path: str, timeout: float):
    try:
        connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as error:
        raise StepFailed(f"cannot open {path}: {error}") from error
    deadline = time.monotonic() + timeout
    # SQLite has no statement timeout: the progress handler interrupts a statement past it.
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            connection.rollback()
            raise
        cursor.execute("COMMIT")
    finally:
        connection.close()


@contextmanager
def _postgres(url: str, timeout: float):
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=max(1, min(int(timeout), 30)))
    except psycopg.Error as error:
        raise StepFailed(f"cannot connect to the target database: {_says(error)}") from error
    try:
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            yield cursor
    finally:
        connection.close()
