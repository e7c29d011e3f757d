"""Periodic tasks of monitoring, merged into Celery beat by controlplane/celery.py."""

BEAT: dict[str, dict] = {}
