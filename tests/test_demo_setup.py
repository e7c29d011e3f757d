"""The demo's own setup: the target database its plan's steps act on exists from the start."""

import sqlite3
from datetime import UTC, datetime

from migrations_app import demo
from monitoring import probes

NOW = datetime.now(UTC)


def test_a_missing_sqlite_target_database_is_created_empty_and_then_passes_its_probe(tmp_path, settings):
    path = tmp_path / "var" / "target.sqlite3"
    settings.TARGET_DATABASES = {"target": f"sqlite:///{path}"}
    missing = probes.probe_database("target", NOW)
    assert (missing.ok, missing.error) == (False, "OperationalError: unable to open database file")

    assert demo.create_target_databases() == ["target"]

    assert path.exists()
    assert probes.probe_database("target", NOW).ok is True
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_an_existing_target_database_is_left_as_it_is(tmp_path, settings):
    path = tmp_path / "target.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE migrated (id INTEGER)")
        connection.execute("INSERT INTO migrated VALUES (7)")
    settings.TARGET_DATABASES = {"target": f"sqlite:///{path}"}

    assert demo.create_target_databases() == []

    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT id FROM migrated").fetchall() == [(7,)]


def test_postgresql_target_databases_are_not_touched(tmp_path, settings):
    settings.TARGET_DATABASES = {
        "reports": "postgres://postgres@127.0.0.1:5432/no_such_database_here",
        "target": f"sqlite:///{tmp_path / 'target.sqlite3'}",
    }
    assert demo.create_target_databases() == ["target"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["target.sqlite3"]
