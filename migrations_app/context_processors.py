from migrations_app.roles import Actor, Permission, Role


def roles(request):
    """`actor`, `can` and `role_names` in every template, so buttons can say why they are
    disabled and the top bar which roles the user has (from the actor: no extra query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = getattr(request, "actor", None) or Actor.for_user(user)
    request.actor = actor
    if actor.can(Permission.ADMIN):
        names = [Role.ADMIN]
    else:
        names = [
            role
            for role, needs in ((Role.OPERATOR, Permission.OPERATE), (Role.APPROVER, Permission.APPROVE))
            if actor.can(needs)
        ] or ([Role.VIEWER] if actor.can(Permission.VIEW) else [])
    return {"actor": actor, "can": {p.name.lower(): actor.can(p) for p in Permission}, "role_names": names}
