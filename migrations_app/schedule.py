"""Periodic tasks of the migration domain, merged into Celery beat by controlplane/celery.py.
Plain data (task name, interval, queue), so the Celery app can read it before Django is up."""

BEAT: dict[str, dict] = {
    # Finds components whose worker died (lease ran out) and sends them down their failure path.
    "engine-sweep": {"task": "migrations_app.engine.tasks.sweep", "schedule": 15.0, "options": {"queue": "control"}},
}
