"""Periodic tasks of the migration domain, merged into Celery beat by controlplane/celery.py.
Plain data (task name, interval, queue), so the Celery app can read it before Django is up."""

BEAT: dict[str, dict] = {}
