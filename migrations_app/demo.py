"""The demo's setup: the TrustStream plan and one login per role."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from migrations_app.planfile import load_plan, parse_plan_file
from migrations_app.roles import CLI, Role

DEMO_PLAN = Path(settings.BASE_DIR) / "plans" / "truststream-v4.2.yaml"
# Production needs two approvers, neither the requester: hence two approver logins.
DEMO_USERS = {
    "operator": [Role.OPERATOR],
    "approver": [Role.APPROVER],
    "approver2": [Role.APPROVER],
    "viewer": [Role.VIEWER],
    "admin": [Role.ADMIN],
}


def demo_password() -> str:
    """DEMO_PASSWORD, or one generated on first start and kept in var/ (never in the repo)."""
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    stored = Path(settings.VAR_DIR) / "demo-password"
    if stored.exists():
        return stored.read_text().strip()
    stored.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    stored.write_text(password + "\n")
    stored.chmod(0o600)
    return password


def ensure_users(password: str) -> list[str]:
    User = get_user_model()
    for username, roles in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username)
        # A new hash logs out every browser: set it only when the password changes.
        if created or not user.check_password(password):
            user.set_password(password)
        user.is_staff = Role.ADMIN in roles
        user.save()
        user.groups.set(Group.objects.filter(name__in=roles))
    return list(DEMO_USERS)


def load_demo_plan():
    spec, source = parse_plan_file(DEMO_PLAN)
    return load_plan(spec, source, actor=CLI)
