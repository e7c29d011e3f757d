"""The procedure's pre-migration data assessment of a plan's target database: tables by
total size with row estimates, and the json, jsonb and array columns that need care.

On PostgreSQL the row counts are the planner's estimates (pg_class.reltuples: cheap on
a large database, None for a table never analysed); SQLite (the embedded demo) has no
statistics, so its tables are counted exactly and their size is unknown.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from migrations_app import audit
from migrations_app.errors import InvalidInput
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission
from monitoring import targets
from monitoring.models import Assessment

POSTGRES_TABLES = """
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid), pg_size_pretty(pg_total_relation_size(c.oid)),
       c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY pg_total_relation_size(c.oid) DESC, n.nspname, c.relname
"""
# The procedure's query filters on data_type 'array'; information_schema spells it 'ARRAY'.
POSTGRES_COMPLEX_COLUMNS = """
SELECT table_schema, table_name, column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND data_type IN ('json', 'jsonb', 'ARRAY')
ORDER BY table_schema, table_name, ordinal_position
"""


def _postgres(connection) -> dict:
    cursor = connection.cursor()
    cursor.execute(POSTGRES_TABLES)
    tables = [
        {
            "schema": schema,
            "table": table,
            "total_bytes": total,
            "size": size,
            "row_estimate": rows if rows >= 0 else None,
        }
        for schema, table, total, size, rows in cursor.fetchall()
    ]
    cursor.execute(POSTGRES_COMPLEX_COLUMNS)
    columns = [
        {"schema": schema, "table": table, "column": column, "data_type": data_type, "nullable": nullable == "YES"}
        for schema, table, column, data_type, nullable in cursor.fetchall()
    ]
    return {"tables": tables, "complex_columns": columns}


def _sqlite(connection) -> dict:
    cursor = connection.cursor()
    names = [
        row[0]
        for row in cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    tables, columns = [], []
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        (count,) = cursor.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()
        tables.append({"schema": "main", "table": name, "total_bytes": None, "size": None, "row_estimate": count})
        for _, column, declared, notnull, *_ in cursor.execute(f"PRAGMA table_info({quoted})").fetchall():
            if "JSON" in (declared or "").upper() or "[]" in (declared or ""):
                columns.append(
                    {"schema": "main", "table": name, "column": column, "data_type": declared, "nullable": not notnull}
                )
    tables.sort(key=lambda t: -t["row_estimate"])
    return {"tables": tables, "complex_columns": columns}


def assess(alias: str) -> tuple[str, dict]:
    """(vendor, result) of the assessment queries on one target database."""
    vendor = targets.vendor_of(alias)
    with targets.connect(alias) as connection:
        return vendor, _postgres(connection) if vendor == "postgresql" else _sqlite(connection)


def run(plan: Plan, actor: Actor, *, database: str | None = None, now: datetime | None = None) -> list[Assessment]:
    """Assess the plan's target databases (or the one named) and keep the results."""
    actor.require(Permission.OPERATE, "run the pre-migration assessment")
    aliases = [database] if database else targets.databases_of(plan)
    if not aliases:
        raise InvalidInput(f"plan {plan.key!r} names no target database in its steps, and none was given")
    now = now or timezone.now()
    results = [(alias, *assess(alias)) for alias in aliases]
    with transaction.atomic():
        rows = [
            Assessment.objects.create(
                plan=plan, database=alias, vendor=vendor, ran_at=now, ran_by_name=actor.name, result=result
            )
            for alias, vendor, result in results
        ]
        for row in rows:
            audit.record(
                actor=actor,
                action="assessment.ran",
                target=row,
                plan=plan,
                data={"tables": len(row.result["tables"]), "complex_columns": len(row.result["complex_columns"])},
            )
    return rows


def latest(plan: Plan) -> list[Assessment]:
    """The latest assessment of each database of the plan."""
    seen, result = set(), []
    for row in Assessment.objects.filter(plan=plan).order_by("-ran_at", "-id"):
        if row.database not in seen:
            seen.add(row.database)
            result.append(row)
    return result
