"""The routing hash: MurmurHash3 reference values, Unleash's published cases, and properties."""

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrations_app.routing import bucket, use_migrated

names = st.text(min_size=1, max_size=40)
keys = st.text(max_size=60)
percentages = st.integers(min_value=0, max_value=100)


def test_murmur3_matches_published_reference_values():
    # From the MurmurHash3 reference implementation's verification set (seed 0).
    assert mmh3.hash("", 0, signed=False) == 0
    assert mmh3.hash("hello", 0, signed=False) == 0x248BFA47
    assert mmh3.hash("The quick brown fox jumps over the lazy dog", 0, signed=False) == 0x2E4FF723


def test_the_bucket_is_the_hash_of_component_colon_key_mod_100_plus_1():
    expected = mmh3.hash("edge-functions:user-42", 0, signed=False) % 100 + 1
    assert bucket("edge-functions", "user-42") == expected
    assert 1 <= expected <= 100


def test_zero_routes_nothing_and_force_original_wins():
    assert not use_migrated("c", "k", 0)
    assert not use_migrated("c", "k", 100, force_original=True)
    assert use_migrated("c", "k", 100)


# Unleash's cross-client normalisation cases (unleash-client-java,
# src/test/java/io/getunleash/strategy/StrategyUtilsTest.java: getNormalizedNumber(id, groupId, 0)).
@pytest.mark.parametrize(("group_id", "user_id", "normalized"), [("gr1", "123", 73), ("groupX", "999", 25)])
def test_the_bucket_equals_unleash_normalized_number(group_id, user_id, normalized):
    assert bucket(group_id, user_id) == normalized


# Unleash/client-specification: specifications/03-gradual-rollout-user-id-strategy.json,
# 04-gradual-rollout-session-id-strategy.json and 10-flexible-rollout-strategy.json.
# (groupId, userId or sessionId, percentage, expectedResult) as the specification states them.
UNLEASH_GRADUAL_ROLLOUT_CASES = [
    ("AB12A", "123", 100, True),  # Feature.A3 / A4: enabled for 100%
    ("AB12A", "122", 50, True),  # Feature.B3 / B4: enabled for userId=122 at 50%
    ("AB12A", "155", 50, False),  # Feature.B3 / B4: disabled for userId=155 at 50%
    ("AB12A", "122", 0, False),  # Feature.C3 / C4: disabled at 0%
    ("Feature.flexibleRollout.10", "174", 10, True),
    ("Feature.flexibleRollout.10", "499", 10, False),
    ("Feature.flexibleRollout.userId.55", "25", 55, True),
    ("Feature.flexibleRollout.sessionId.42", "147", 42, True),
]


@pytest.mark.parametrize(("group_id", "key", "percentage", "expected"), UNLEASH_GRADUAL_ROLLOUT_CASES)
def test_routing_agrees_with_unleash_client_specification(group_id, key, percentage, expected):
    assert use_migrated(group_id, key, percentage) is expected


@given(names, keys, percentages, percentages)
def test_raising_the_percentage_only_adds_keys(component, key, low, high):
    low, high = min(low, high), max(low, high)
    if use_migrated(component, key, low):
        assert use_migrated(component, key, high)


@given(names, keys, percentages)
def test_force_original_routes_no_key(component, key, percentage):
    assert not use_migrated(component, key, percentage, force_original=True)


@given(names, keys)
def test_zero_percent_routes_none_and_hundred_routes_all(component, key):
    assert not use_migrated(component, key, 0)
    assert use_migrated(component, key, 100)


@given(names, keys)
def test_the_bucket_is_always_between_1_and_100(component, key):
    assert 1 <= bucket(component, key) <= 100


@settings(max_examples=15, deadline=None)
@given(names, st.integers(min_value=1, max_value=99))
def test_over_100000_keys_the_share_routed_is_within_one_point_of_the_percentage(component, percentage):
    routed = sum(use_migrated(component, f"user-{i}", percentage) for i in range(100_000))
    assert abs(routed / 1000 - percentage) <= 1.0
