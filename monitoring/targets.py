"""Connections to the databases that plans act on (TARGET_DATABASES), for probes and the
pre-migration assessment. Short-lived: opened, used, closed."""

import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection

from controlplane import sql
from controlplane.env import parse_database_url
from migrations_app.errors import NotFound
from migrations_app.models import Component, Plan, Step

# The TARGET_DATABASES names the plan's steps act on, one row each. SQL, so that
# `probes.database_status` reads them with their latest probes in one query.
USED_BY_SQL = """
SELECT DISTINCT step.{database} AS name
FROM {step} step JOIN {component} component ON component.id = step.component_id
WHERE component.plan_id = %s AND step.{database} IN ({names})
"""


def used_by(plan: Plan) -> tuple[str, list]:
    """`USED_BY_SQL` and its parameters for `plan` (TARGET_DATABASES must name one at least)."""
    names = list(settings.TARGET_DATABASES)
    query = USED_BY_SQL.format(
        database=connection.ops.quote_name(Step._meta.get_field("database").column),
        step=Step._meta.db_table,
        component=Component._meta.db_table,
        names=sql.placeholders(names),
    )
    return query, [plan.pk, *names]


def databases_of(plan: Plan) -> list[str]:
    """The TARGET_DATABASES names the plan's steps act on."""
    if not settings.TARGET_DATABASES:
        return []
    return sorted(name for (name,) in sql.rows(*used_by(plan)))


def vendor_of(alias: str) -> str:
    return "sqlite" if _config(alias)["ENGINE"].endswith("sqlite3") else "postgresql"


def sqlite_file(alias: str) -> Path | None:
    """The file of the target database `alias` when it is SQLite; None for PostgreSQL."""
    config = _config(alias)
    return Path(config["NAME"]) if config["ENGINE"].endswith("sqlite3") else None


def _config(alias: str) -> dict:
    if alias not in settings.TARGET_DATABASES:
        known = ", ".join(settings.TARGET_DATABASES)
        raise NotFound(f"no target database named {alias!r}; TARGET_DATABASES names: {known}")
    return parse_database_url(f"TARGET_DATABASES[{alias}]", settings.TARGET_DATABASES[alias])


@contextmanager
def connect(alias: str, *, timeout_seconds: float = 5):
    """A DB-API connection to the target database `alias` (psycopg or sqlite3)."""
    config = _config(alias)
    if config["ENGINE"].endswith("sqlite3"):
        # mode=rw: probing must not create an empty database file where none is.
        connection = sqlite3.connect(f"file:{config['NAME']}?mode=rw", uri=True, timeout=timeout_seconds)
    else:
        connection = psycopg.connect(
            dbname=config["NAME"],
            user=config.get("USER") or None,
            password=config.get("PASSWORD") or None,
            host=config.get("HOST") or None,
            port=config.get("PORT") or None,
            connect_timeout=max(1, int(timeout_seconds)),
            autocommit=True,
        )
    with closing(connection):
        yield connection
