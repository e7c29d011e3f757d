from migrations_app.roles import Actor, Permission


def roles(request):
    """`actor` and `can` in every template, so buttons can say why they are disabled."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = getattr(request, "actor", None) or Actor.for_user(user)
    request.actor = actor
    return {"actor": actor, "can": {p.name.lower(): actor.can(p) for p in Permission}}
