"""Helpers for the few reads written as SQL (each says why), portable between PostgreSQL
and the embedded SQLite."""

from datetime import UTC, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime


def placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def moment(value) -> datetime:
    """A timestamp read by SQL, aware. PostgreSQL's driver gives it aware; SQLite gives the
    UTC that Django stored, as a naive datetime for a column and as text for an aggregate."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
