"""Start-up refuses a malformed environment, naming the variable (a real start, in a
subprocess, so the check is the one an operator meets)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}}
    environment |= {"SECRET_KEY_FILE": "/nonexistent/secret-key", "DJANGO_SETTINGS_MODULE": "controlplane.settings"}
    environment |= env
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "yes"}, "DEBUG must be True or False"),
        ({"DEBUG": "True", "DATABASE_URL": "mysql://db/x"}, "DATABASE_URL must be a sqlite:// or postgres:// URL"),
        ({"DEBUG": "True", "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DEBUG": "True", "DATABASE_URL": "postgres://127.0.0.1:5432"}, "DATABASE_URL names no database"),
        ({"DEBUG": "True", "REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must be a redis:// URL"),
        ({"DEBUG": "True", "REDIS_URL": "redis://127.0.0.1:notaport/0"}, "REDIS_URL has a bad port"),
        ({"DEBUG": "True", "PORT": "eighty"}, "PORT must be a whole number"),
        ({"DEBUG": "True", "PORT": "70000"}, "PORT must be between 1 and 65535"),
        ({"DEBUG": "True", "TARGET_DATABASES": "target"}, "TARGET_DATABASES must be a comma-separated list"),
        ({"DEBUG": "True", "TARGET_DATABASES": "target=ftp://x"}, "TARGET_DATABASES[target] must be a sqlite://"),
        ({"DEBUG": "True", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        ({"DEBUG": "False"}, "SECRET_KEY must be set"),
    ],
)
def test_it_refuses_to_start_with_a_malformed_variable(env, named, tmp_path):
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite3")
    result = start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_it_starts_with_a_well_formed_environment(tmp_path):
    result = start(
        SECRET_KEY="s3cret-for-this-test",
        DEBUG="false",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        REDIS_URL="redis://127.0.0.1:6379/3",
        ALLOWED_HOSTS="switchyard.example,127.0.0.1",
        PORT="8111",
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_it_reads_the_secret_key_kept_by_make_run(tmp_path):
    key_file = tmp_path / "secret-key"
    key_file.write_text("kept-key-from-file\n")
    result = start(SECRET_KEY_FILE=str(key_file), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert result.returncode == 0, result.stderr
