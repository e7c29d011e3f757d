from celery import shared_task

from controlplane import topology


@shared_task
def answer_ping(plan_id: int, ping_id: str, queue: str, sent_at: str) -> None:
    topology.answer_ping(plan_id, ping_id, queue, sent_at)
