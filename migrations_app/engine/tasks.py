"""Celery tasks of the engine: thin callers of the runner and the sweeper. Component
tasks (`run_*`) go to the `migrations` queue (CELERY_TASK_ROUTES), the sweeper to
`control`. Each is keyed by the row it acts on and claims it before doing anything."""

from celery import shared_task

from . import runner, sweeper


@shared_task
def run_component(component_run_id: int) -> None:
    runner.run_forward(component_run_id)


@shared_task
def run_component_rollback(component_run_id: int) -> None:
    runner.run_undo(component_run_id)


@shared_task
def sweep() -> dict:
    return sweeper.sweep()
