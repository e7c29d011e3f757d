"""Sticky, Unleash-compatible routing: which requests go to the new implementation.

A key K of component C goes to the new implementation when
`murmur3_32("C:K", seed 0) % 100 + 1 <= percentage` (unsigned 32-bit MurmurHash3 x86),
the normalisation Unleash uses for gradual rollout with the group id C. Raising the
percentage only adds keys. Pure: no ORM, so data-plane clients can copy it.
"""

import mmh3


def bucket(component: str, key: str) -> int:
    """The key's bucket for this component, 1..100."""
    return mmh3.hash(f"{component}:{key}", 0, signed=False) % 100 + 1


def use_migrated(component: str, key: str, percentage: int, *, force_original: bool = False) -> bool:
    if force_original or percentage <= 0:
        return False
    return bucket(component, key) <= percentage
