"""Authentication for the data plane's two read endpoints: the same tokens and sessions as
the rest of the API, with service tokens remembered by the per-process cache (cache.py).

A service token's row is all its permissions depend on, and any change to a token row
(revocation included) empties the cache at commit, so a revoked token stops working as
soon as PostgreSQL tells the process. Personal tokens and sessions depend on the user's
roles as well: those are looked up every time.
"""

import time

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from migrations_app import tokens
from migrations_app.roles import Actor
from migrations_app.rollout.cache import CACHE


def _load(raw: str):
    token = tokens.authenticate(raw)
    return None if token is None else (Actor.for_token(token), time.monotonic())


class DataPlaneBearer(HttpBearer):
    def __call__(self, request: HttpRequest):
        # As HttpBearer does, reading META directly: `request.headers` is rebuilt from META
        # on every request, a measurable part of an answer served from the cache.
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token:
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str):
        if not token.startswith(tokens.TOKEN_PREFIX):
            return None
        key = ("token", tokens.digest(token))
        request.rollout_cache = usable = CACHE.usable()
        found = CACHE.get(key, lambda: _load(token), usable)
        # Re-read at the resolution of `last_used_at`, so that it stays true.
        if found is not None and time.monotonic() - found[1] > tokens.LAST_USED_RESOLUTION.total_seconds():
            CACHE.forget(key)
            found = CACHE.get(key, lambda: _load(token), usable)
        if found is None or found[0].is_person:
            CACHE.forget(key)  # unknown tokens and people's tokens are never remembered
        if found is None:
            return None
        request.actor = found[0]
        return request.actor


class DataPlaneSession(APIKeyCookie):
    """The dashboard's session (a logged-in viewer may read rollouts too)."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key):
        if not request.user.is_authenticated:
            return None
        request.rollout_cache = CACHE.usable()
        request.actor = Actor.for_user(request.user)
        return request.actor


DATA_PLANE_AUTH = [DataPlaneBearer(), DataPlaneSession()]
