"""The data plane's cache: served without a query, emptied by PostgreSQL when anyone writes."""

import time

import psycopg
import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from migrations_app import tokens
from migrations_app.models import ApiToken
from migrations_app.roles import CLI
from migrations_app.rollout.cache import CACHE

pytestmark = pytest.mark.django_db(transaction=True)

SNAPSHOT = "/api/v1/plans/truststream-v4.2/rollout"


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def reader(demo_plan):
    _, raw = tokens.create(name="data-plane", scopes=["rollout:read"], actor=CLI)
    CACHE.usable()
    assert wait_for(lambda: CACHE.listening)
    return {"Authorization": f"Bearer {raw}"}


def another_process_runs(sql: str) -> None:
    """A write from outside this process: its own connection, committed."""
    params = {
        k: v
        for k, v in connections["default"].get_connection_params().items()
        if k not in {"cursor_factory", "context", "prepare_threshold"}
    }
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute(sql)


def test_a_cached_304_costs_no_query(client, reader, django_assert_num_queries):
    etag = client.get(SNAPSHOT, headers=reader)["ETag"]

    def served_without_a_query():
        with CaptureQueriesContext(connections["default"]) as queries:
            assert client.get(SNAPSHOT, headers=reader | {"If-None-Match": etag}).status_code == 304
        return len(queries) == 0

    # The token's first use records `last_used_at`, a write that empties the cache once.
    assert wait_for(served_without_a_query)
    with django_assert_num_queries(0):
        decided = client.get("/api/v1/plans/truststream-v4.2/decide?component=edge-functions&key=k", headers=reader)
    assert decided.json()["use_migrated"] is False


def test_a_write_by_another_process_reaches_the_snapshot(client, reader):
    etag = client.get(SNAPSHOT, headers=reader)["ETag"]
    # As every writer of a rollout does (rollout/changes.py), in one transaction: the plan's epoch too.
    another_process_runs(
        "BEGIN; UPDATE migrations_app_rollout SET percentage = 33 WHERE component_id IN "
        "(SELECT id FROM migrations_app_component WHERE name = 'edge-functions'); "
        "UPDATE migrations_app_plan SET epoch = epoch + 1; COMMIT"
    )

    def shows_33():
        response = client.get(SNAPSHOT, headers=reader | {"If-None-Match": etag})
        return response.status_code == 200 and response.json()["components"]["edge-functions"]["percentage"] == 33

    assert wait_for(shows_33)


def test_force_original_set_elsewhere_reaches_decide(client, reader):
    another_process_runs("UPDATE migrations_app_rollout SET percentage = 100")
    url = "/api/v1/plans/truststream-v4.2/decide?component=edge-functions&key=k"
    assert wait_for(lambda: client.get(url, headers=reader).json()["use_migrated"] is True)
    another_process_runs("UPDATE migrations_app_plan SET force_original = true")
    assert wait_for(lambda: client.get(url, headers=reader).json()["use_migrated"] is False)


def test_a_revoked_service_token_stops_working(client, reader):
    assert client.get(SNAPSHOT, headers=reader).status_code == 200
    ApiToken.objects.filter(name="data-plane").update(revoked_at=timezone.now())
    assert wait_for(lambda: client.get(SNAPSHOT, headers=reader).status_code == 401)
