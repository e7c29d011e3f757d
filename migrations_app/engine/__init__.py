"""The migration engine: runs component migrations (steps forward, reverses on failure) as Celery tasks."""
