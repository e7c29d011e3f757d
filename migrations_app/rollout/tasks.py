"""Celery tasks of the rollout controller, on the `control` queue. Each calls one service;
each carries the epoch it was scheduled under, so that a late or repeated one does nothing."""

from celery import shared_task

from migrations_app import approvals
from migrations_app.rollout import emergency, reconcile


@shared_task(name="migrations_app.rollout.tasks.reconcile_all", ignore_result=True)
def reconcile_all():
    for rollout_id, epoch in reconcile.due():
        reconcile_rollout.delay(rollout_id, epoch)
    emergency.resume_stalled()


@shared_task(name="migrations_app.rollout.tasks.reconcile_rollout", ignore_result=True)
def reconcile_rollout(rollout_id: int, epoch: int):
    reconcile.reconcile(rollout_id, epoch)


@shared_task(name="migrations_app.rollout.tasks.verify_stability", ignore_result=True)
def verify_stability(plan_id: int, epoch: int, attempt: int):
    emergency.verify_stability(plan_id, epoch, attempt)


@shared_task(name="migrations_app.rollout.tasks.expire_approvals", ignore_result=True)
def expire_approvals():
    approvals.expire_due()
