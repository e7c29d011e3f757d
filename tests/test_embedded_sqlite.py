"""The reads written as SQL (the overview's progress per component, the rollups' health
sums), on the embedded default's SQLite: their tests, run again there."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "migrations_app/tests/test_overview_progress.py",
    "migrations_app/tests/test_dashboard_live.py",
    "monitoring/tests/test_health.py",
    "monitoring/tests/test_rollups.py",
]


@pytest.mark.slow
def test_the_sql_reads_pass_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'switchyard.sqlite3'}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--create-db", *TESTS]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
