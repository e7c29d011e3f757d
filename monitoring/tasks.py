"""Celery tasks of monitoring, on the `control` queue; each calls one service."""

from celery import shared_task

from monitoring import notify, probes, watch


@shared_task(ignore_result=True)
def run_probes():
    probes.run_probes()


@shared_task(ignore_result=True)
def watch_health():
    watch.watch()


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int):
    notify.deliver(delivery_id)


@shared_task(ignore_result=True)
def deliver_due_webhooks():
    notify.deliver_due()


@shared_task(ignore_result=True)
def prune_metrics():
    watch.prune()
