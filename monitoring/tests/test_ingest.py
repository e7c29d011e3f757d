"""POST /api/v1/metrics and /comparisons: a batch is written whole or not at all, and
every way of getting it wrong gets its own clear error."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from migrations_app import tokens
from migrations_app.roles import CLI
from monitoring.models import ComparisonMismatch, ComparisonRollup, IngestCounter, MetricRollup, MetricSample

PLAN = "truststream-v4.2"


@pytest.fixture
def token(db):
    return tokens.create(name="ingest", scopes=["metrics:write"], actor=CLI)[1]


def item(**changes):
    base = {
        "plan": PLAN,
        "component": "edge-functions",
        "operation": "coordinate",
        "provider": "migrated",
        "duration_ms": 42.5,
        "success": True,
    }
    return {**base, **changes}


def post(client, token, body, content_type="application/json", path="/api/v1/metrics"):
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(path, data=body, content_type=content_type, headers=headers)


def nothing_written():
    return not MetricSample.objects.exists() and not MetricRollup.objects.exists()


@pytest.mark.django_db
def test_a_json_array_is_written_as_samples_and_rollups(client, demo_plan, token):
    batch = [item(), item(provider="original", duration_ms=10, success=False, error_message="boom")]
    response = post(client, token, batch)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2}
    samples = MetricSample.objects.order_by("provider")
    assert [(s.provider, s.duration_ms, s.success, s.error_message) for s in samples] == [
        ("migrated", 42.5, True, ""),
        ("original", 10.0, False, "boom"),
    ]
    assert samples[0].component.name == "edge-functions"
    rollups = {r.provider: r for r in MetricRollup.objects.all()}
    assert (rollups["original"].count, rollups["original"].errors, rollups["original"].le_10) == (1, 1, 1)
    assert (rollups["migrated"].count, rollups["migrated"].latency_sum_ms, rollups["migrated"].le_50) == (1, 42.5, 1)


@pytest.mark.django_db
def test_ndjson_is_taken_line_by_line(client, demo_plan, token):
    lines = "\n".join(json.dumps(item(duration_ms=d)) for d in (1, 2, 3)) + "\n\n"
    response = post(client, token, lines, content_type="application/x-ndjson")
    assert response.status_code == 200, response.content
    assert sorted(MetricSample.objects.values_list("duration_ms", flat=True)) == [1.0, 2.0, 3.0]
    assert MetricRollup.objects.get().count == 3


@pytest.mark.django_db
def test_recorded_at_places_a_sample_in_its_ten_second_bucket(client, demo_plan, token):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    post(client, token, [item(recorded_at=at.isoformat())])
    rollup = MetricRollup.objects.get()
    assert rollup.bucket_start == at - timedelta(seconds=at.second % 10)
    assert MetricSample.objects.get().recorded_at == at


def future():
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


def ancient():
    return (datetime.now(UTC) - timedelta(days=30)).isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ({"plan": "no-such-plan"}, "plan", "unknown plan 'no-such-plan'"),
        ({"component": "trust-svc"}, "component", "has no component 'trust-svc'"),
        ({"duration_ms": -5}, "duration_ms", "must not be negative, got -5"),
        ({"recorded_at": "FUTURE"}, "recorded_at", "in the future"),
        ({"recorded_at": "ANCIENT"}, "recorded_at", "older than the metrics retention"),
        ({"provider": "supabase"}, "provider", "must be 'original' or 'migrated'"),
        ({"success": "yes"}, "success", "must be true or false"),
        ({"duration_ms": "fast"}, "duration_ms", "must be a number"),
        ({"operation": ""}, "operation", "must not be empty"),
        ({"color": "red"}, "color", "is not a field of an item"),
    ],
)
def test_one_bad_item_refuses_the_whole_batch_naming_it(client, demo_plan, token, bad, field, reason):
    bad = {k: {"FUTURE": future(), "ANCIENT": ancient()}.get(v, v) if isinstance(v, str) else v for k, v in bad.items()}
    batch = [item(), item(), item(**bad), item()]
    response = post(client, token, batch)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, field)]
    assert reason in errors[0]["reason"]
    assert nothing_written()


@pytest.mark.django_db
def test_a_missing_field_is_named(client, demo_plan, token):
    incomplete = item()
    del incomplete["success"]
    response = post(client, token, [item(), incomplete])
    assert response.status_code == 422
    assert response.json()["detail"] == [{"index": 1, "field": "success", "reason": "is required"}]
    assert nothing_written()


@pytest.mark.django_db
def test_every_bad_item_is_listed_at_once(client, demo_plan, token):
    batch = [item(duration_ms=-1), item(), item(plan="nope"), item(provider="x", duration_ms=-2)]
    response = post(client, token, batch)
    assert response.status_code == 422
    listed = {(e["index"], e["field"]) for e in response.json()["detail"]}
    assert listed == {(0, "duration_ms"), (2, "plan"), (3, "provider")}
    assert nothing_written()


@pytest.mark.django_db
def test_a_bad_ndjson_line_is_named_by_its_index(client, demo_plan, token):
    body = json.dumps(item()) + "\n{not json\n" + json.dumps(item()) + "\n"
    response = post(client, token, body, content_type="application/x-ndjson")
    assert response.status_code == 422
    assert [e["index"] for e in response.json()["detail"]] == [1]
    assert "not valid JSON" in response.json()["detail"][0]["reason"]
    assert nothing_written()


@pytest.mark.django_db
def test_malformed_json_is_refused_with_400(client, demo_plan, token):
    response = post(client, token, '[{"plan": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
def test_a_single_object_instead_of_an_array_is_refused(client, demo_plan, token):
    response = post(client, token, item())
    assert response.status_code == 422
    assert "JSON array" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
def test_more_than_ten_thousand_items_is_refused_with_413(client, demo_plan, token):
    response = post(client, token, [item()] * 10_001)
    assert response.status_code == 413
    assert "10001 items; at most 10000" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
def test_an_oversized_body_is_refused_with_413(client, demo_plan, token, settings):
    settings.METRICS_MAX_BODY_BYTES = 2048
    response = post(client, token, [item()] * 50)
    assert response.status_code == 413
    assert "at most 2048" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_wrong_content_type_is_refused_with_415(client, demo_plan, token, content_type):
    response = post(client, token, json.dumps([item()]), content_type=content_type)
    assert response.status_code == 415
    assert "application/x-ndjson" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
def test_without_a_token_it_answers_401_and_writes_nothing(client, demo_plan):
    response = post(client, None, [item()])
    assert response.status_code == 401
    assert nothing_written()


@pytest.mark.django_db
def test_a_token_without_metrics_write_gets_403(client, demo_plan):
    reader = tokens.create(name="reader", scopes=["read"], actor=CLI)[1]
    response = post(client, reader, [item()])
    assert response.status_code == 403
    assert "metrics:write" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.django_db
def test_refused_and_accepted_batches_are_counted(client, demo_plan, token):
    post(client, token, [item(), item()])
    post(client, token, [item(plan="nope")])
    post(client, token, "x", content_type="text/plain")
    counters = {(c.kind, c.outcome): (c.batches, c.items) for c in IngestCounter.objects.all()}
    assert counters == {("metrics", "accepted"): (1, 2), ("metrics", "rejected"): (2, 1)}


def comparison(**changes):
    base = {"plan": PLAN, "component": "edge-functions", "request_id": "r1", "equivalent": True}
    return {**base, **changes}


@pytest.mark.django_db
def test_comparisons_count_per_bucket_and_keep_mismatching_diffs(client, demo_plan, token):
    batch = [comparison(request_id="a"), comparison(request_id="b", equivalent=False, diff={"score": [0.5, 0.7]})]
    response = post(client, token, batch, path="/api/v1/comparisons")
    assert response.status_code == 200, response.content
    rollup = ComparisonRollup.objects.get()
    assert (rollup.count, rollup.mismatches) == (2, 1)
    kept = ComparisonMismatch.objects.get()
    assert (kept.request_id, kept.diff) == ("b", {"score": [0.5, 0.7]})


@pytest.mark.django_db
def test_only_the_latest_mismatches_are_kept(client, demo_plan, token):
    keep = ComparisonMismatch.KEEP_PER_COMPONENT
    for start in (0, keep):
        batch = [comparison(request_id=f"m{i}", equivalent=False) for i in range(start, start + keep)]
        assert post(client, token, batch, path="/api/v1/comparisons").status_code == 200
    kept = list(ComparisonMismatch.objects.order_by("id").values_list("request_id", flat=True))
    assert kept == [f"m{i}" for i in range(keep, 2 * keep)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"equivalent": "no"}, "equivalent"),
        ({"component": "nope"}, "component"),
        ({"request_id": ""}, "request_id"),
        ({"diff": {"blob": "x" * 20000}}, "diff"),
    ],
)
def test_a_bad_comparison_refuses_the_batch(client, demo_plan, token, bad, field):
    response = post(client, token, [comparison(), comparison(**bad)], path="/api/v1/comparisons")
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.json()["detail"]] == [(1, field)]
    assert not ComparisonRollup.objects.exists()
    assert not ComparisonMismatch.objects.exists()
