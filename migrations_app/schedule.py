"""Periodic tasks of the migration domain, merged into Celery beat by controlplane/celery.py.
Plain data (task name, interval, queue), so the Celery app can read it before Django is up."""

BEAT: dict[str, dict] = {
    # Finds components whose worker died (lease ran out) and sends them down their failure path.
    "engine-sweep": {"task": "migrations_app.engine.tasks.sweep", "schedule": 15.0, "options": {"queue": "control"}},
    # Level-triggered: every few seconds each active rollout is looked at under its epoch.
    # `expires`: a reconcile that waited longer than a beat is superseded by the next one.
    "rollout-reconcile": {
        "task": "migrations_app.rollout.tasks.reconcile_all",
        "schedule": 5.0,
        "options": {"queue": "control", "expires": 5.0},
    },
    "approvals-expire": {
        "task": "migrations_app.rollout.tasks.expire_approvals",
        "schedule": 60.0,
        "options": {"queue": "control", "expires": 60.0},
    },
}
