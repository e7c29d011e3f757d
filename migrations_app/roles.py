"""Who may do what. Roles are Django groups; tokens carry scopes.

Every service takes an `Actor` (a person, a service token, or the system) and asks it
`actor.require(Permission.OPERATE, "start a phase")` before changing anything.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from migrations_app.errors import NotAllowed


class Permission(StrEnum):
    VIEW = "view"
    OPERATE = "operate"
    APPROVE = "approve"
    ADMIN = "admin"
    ROLLOUT_READ = "rollout:read"
    METRICS_WRITE = "metrics:write"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


P = Permission
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.VIEWER: frozenset({P.VIEW, P.ROLLOUT_READ}),
    Role.OPERATOR: frozenset({P.VIEW, P.ROLLOUT_READ, P.OPERATE}),
    Role.APPROVER: frozenset({P.VIEW, P.ROLLOUT_READ, P.APPROVE}),
    Role.ADMIN: frozenset(Permission),
}

# What a token's scopes grant. `approve` only means something on a personal token:
# only a person approves.
SCOPE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "read": frozenset({P.VIEW}),
    "rollout:read": frozenset({P.ROLLOUT_READ}),
    "metrics:write": frozenset({P.METRICS_WRITE}),
    "operate": frozenset({P.VIEW, P.ROLLOUT_READ, P.OPERATE}),
    "approve": frozenset({P.VIEW, P.APPROVE}),
}
SERVICE_SCOPES = frozenset(SCOPE_PERMISSIONS) - {"approve"}

ROLE_REQUIRED_FOR = {
    P.VIEW: "a viewer, operator, approver or admin role",
    P.OPERATE: "the operator or admin role",
    P.APPROVE: "the approver or admin role",
    P.ADMIN: "the admin role",
    P.ROLLOUT_READ: "the rollout:read scope",
    P.METRICS_WRITE: "the metrics:write scope",
}


def user_permissions(user) -> frozenset[Permission]:
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Permission)
    granted: set[Permission] = set()
    for group in user.groups.values_list("name", flat=True):
        granted |= ROLE_PERMISSIONS.get(group, frozenset())
    return frozenset(granted)


@dataclass(frozen=True)
class Actor:
    name: str
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    user: object = None
    token: object = None

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(name=user.get_username(), permissions=user_permissions(user), user=user)

    @classmethod
    def for_token(cls, token) -> "Actor":
        granted: set[Permission] = set()
        for scope in token.scopes:
            granted |= SCOPE_PERMISSIONS.get(scope, frozenset())
        if token.user_id is None:
            granted.discard(P.APPROVE)
            return cls(name=f"token:{token.name}", permissions=frozenset(granted), token=token)
        # A personal token acts as its user: the user's roles, narrowed by its scopes if any.
        allowed = user_permissions(token.user)
        permissions = allowed & frozenset(granted) if token.scopes else allowed
        return cls(name=token.user.get_username(), permissions=permissions, user=token.user, token=token)

    @property
    def is_person(self) -> bool:
        return self.user is not None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission, doing: str) -> None:
        if not self.can(permission):
            raise NotAllowed(f"{self.name} may not {doing}: it needs {ROLE_REQUIRED_FOR[permission]}")

    def __str__(self):
        return self.name


SYSTEM = Actor(name="system", permissions=frozenset(Permission))

# Commands run from a shell on the control plane's machine: whoever can run them owns it.
CLI = Actor(name="cli", permissions=frozenset(Permission))
