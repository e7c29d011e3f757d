"""API tokens: created once, shown once, stored as a SHA-256 digest.

Tokens are 32 random bytes, so a fast digest is enough: there is nothing to brute-force.
"""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from migrations_app import audit
from migrations_app.errors import Conflict, InvalidInput
from migrations_app.models import ApiToken
from migrations_app.roles import SCOPE_PERMISSIONS, SERVICE_SCOPES, Actor, Permission

TOKEN_PREFIX = "sy_"
# Recording every use would put a write on the data plane's hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(*, name: str, scopes: list[str], actor: Actor, user=None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the raw token, which is never stored."""
    actor.require(Permission.ADMIN, "create API tokens")
    unknown = [s for s in scopes if s not in SCOPE_PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(SCOPE_PERMISSIONS))}")
    if user is None and not scopes:
        raise InvalidInput("a service token needs at least one scope")
    if user is None and not set(scopes) <= SERVICE_SCOPES:
        raise InvalidInput("only a personal token (--user) may approve: only a person approves")
    if ApiToken.objects.filter(name=name).exists():
        raise Conflict(f"a token named {name!r} already exists")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(name=name, digest=digest(raw), prefix=raw[:10], scopes=scopes, user=user)
        audit.record(
            actor=actor,
            action="token.created",
            target=token,
            after={"scopes": scopes, "user": user.get_username() if user else None},
        )
    return token, raw


def revoke(token: ApiToken, *, actor: Actor, reason: str = "") -> bool:
    """Revoke a token for good (audited); False when it was revoked already."""
    actor.require(Permission.ADMIN, "revoke API tokens")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit.record(actor=actor, action="token.revoked", target=token, reason=reason)
    return bool(revoked)


def authenticate(raw: str) -> ApiToken | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw), revoked_at__isnull=True).first()
    if token is None or (token.user_id and not token.user.is_active):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
