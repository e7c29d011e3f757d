"""The routing hash, checked against MurmurHash3 x86_32 reference values."""

from migrations_app.routing import bucket, use_migrated


def test_murmur3_matches_published_reference_values():
    import mmh3

    # From the MurmurHash3 reference implementation's verification set (seed 0).
    assert mmh3.hash("", 0, signed=False) == 0
    assert mmh3.hash("hello", 0, signed=False) == 0x248BFA47
    assert mmh3.hash("The quick brown fox jumps over the lazy dog", 0, signed=False) == 0x2E4FF723


def test_the_bucket_is_the_hash_of_component_colon_key_mod_100_plus_1():
    import mmh3

    expected = mmh3.hash("edge-functions:user-42", 0, signed=False) % 100 + 1
    assert bucket("edge-functions", "user-42") == expected
    assert 1 <= expected <= 100


def test_zero_routes_nothing_and_force_original_wins():
    assert not use_migrated("c", "k", 0)
    assert not use_migrated("c", "k", 100, force_original=True)
    assert use_migrated("c", "k", 100)
