"""Permission checks for views: one decorator, the same rules as the services."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from migrations_app.roles import ROLE_REQUIRED_FOR, Actor, Permission


def actor_for(request) -> Actor:
    actor = getattr(request, "actor", None)
    if actor is None:
        actor = Actor.for_user(request.user)
        request.actor = actor
    return actor


def requires(permission: Permission):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not actor_for(request).can(permission):
                raise PermissionDenied(f"This page needs {ROLE_REQUIRED_FOR[permission]}.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
