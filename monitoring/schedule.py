"""Periodic tasks of monitoring, merged into Celery beat by controlplane/celery.py.

Each entry expires after its own interval: a worker that fell behind runs the latest
round, not a backlog of stale ones.
"""

PROBE_SECONDS = 15.0
WATCH_SECONDS = 10.0
WEBHOOK_SWEEP_SECONDS = 5.0
PRUNE_SECONDS = 600.0


def _every(seconds: float, task: str) -> dict:
    return {"task": task, "schedule": seconds, "options": {"queue": "control", "expires": seconds}}


BEAT: dict[str, dict] = {
    "monitoring.probes": _every(PROBE_SECONDS, "monitoring.tasks.run_probes"),
    "monitoring.watch": _every(WATCH_SECONDS, "monitoring.tasks.watch_health"),
    "monitoring.webhooks": _every(WEBHOOK_SWEEP_SECONDS, "monitoring.tasks.deliver_due_webhooks"),
    "monitoring.prune": _every(PRUNE_SECONDS, "monitoring.tasks.prune_metrics"),
}
