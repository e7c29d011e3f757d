"""PostgreSQL connections come from a small pool per process: a request in a thread of its
own (as under ASGI) borrows one and gives it back, instead of connecting anew; the pool's
bounds come from the environment, checked at start-up."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signals
from django.db import connection

from migrations_app.models import Plan

ROOT = Path(__file__).resolve().parents[2]


def pool_options(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_POOL")}
    environment |= {"DEBUG": "True", "DJANGO_SETTINGS_MODULE": "controlplane.settings", **env}
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.DATABASES['default'].get('OPTIONS', {}).get('pool'))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)


def request_in_its_own_thread(results: list) -> None:
    """What Django does for one request under ASGI: a new thread, a query, and the request's
    end closing the thread's connection."""
    signals.request_started.send(sender=None)
    try:
        results.append(Plan.objects.count())
    finally:
        signals.request_finished.send(sender=None)


@pytest.mark.django_db(transaction=True)
def test_requests_in_threads_of_their_own_share_a_few_pooled_connections(tiny_plan):
    pool = connection.pool
    before = pool.get_stats()
    made_before = before.get("connections_num", 0)
    # This test's own connection, and any held by threads earlier tests left running.
    lent_before = before.get("pool_size", 0) - before.get("pool_available", 0)
    results: list = []

    for _ in range(5):  # 5 waves of 8 concurrent requests, more at once than the pool holds
        threads = [threading.Thread(target=request_in_its_own_thread, args=(results,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    stats = pool.get_stats()
    assert results == [1] * 40
    assert stats.get("connections_num", 0) - made_before <= settings.DATABASE_POOL["max_size"]
    # Every connection the requests borrowed is back, ready for the next request.
    lent = stats["pool_size"] - stats["pool_available"]
    assert lent <= max(lent_before, 1)


def test_the_pool_takes_its_bounds_from_the_environment():
    started = pool_options(DATABASE_POOL_MIN_SIZE="0", DATABASE_POOL_MAX_SIZE="9", DATABASE_POOL_TIMEOUT="3")
    assert started.returncode == 0, started.stderr
    assert "'min_size': 0, 'max_size': 9, 'timeout': 3" in started.stdout


def test_the_pool_can_be_turned_off():
    started = pool_options(DATABASE_POOL="False")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "None"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_POOL": "sometimes"}, "DATABASE_POOL must be True or False"),
        ({"DATABASE_POOL_MAX_SIZE": "0"}, "DATABASE_POOL_MAX_SIZE must be between 1 and 100"),
        ({"DATABASE_POOL_MAX_SIZE": "many"}, "DATABASE_POOL_MAX_SIZE must be a whole number"),
        ({"DATABASE_POOL_MIN_SIZE": "5", "DATABASE_POOL_MAX_SIZE": "2"}, "DATABASE_POOL_MIN_SIZE (5) must not"),
        ({"DATABASE_POOL_TIMEOUT": "0"}, "DATABASE_POOL_TIMEOUT must be between 1 and 600"),
    ],
)
def test_a_malformed_pool_setting_stops_start_up_naming_it(env, named):
    started = pool_options(**env)
    assert started.returncode != 0
    assert named in started.stderr
