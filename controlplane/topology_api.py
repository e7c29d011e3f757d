"""Topology checks of the API: is every queue served, and do workers' events reach the web?"""

from ninja import Router, Schema, Status

from controlplane import topology
from migrations_app.errors import NotFound
from migrations_app.models import Plan

router = Router(tags=["topology"])


class Answer(Schema):
    queue: str
    host: str
    pid: int
    waited_ms: float
    answered_at: str
    seq: int | None


class PingOut(Schema):
    ping: str
    queues: list[str]
    sent_at: str
    by: str
    answers: list[Answer]
    missing: list[str]


class PingTimedOut(PingOut):
    detail: str


@router.post("/plans/{plan_key}/workers/ping", response={200: PingOut, 504: PingTimedOut})
def ping_workers(request, plan_key: str):
    """Ask a worker on each queue to answer on the plan's live channel; wait for the answers.

    504 names the queues that did not answer in time: no worker consumes them, or their
    workers publish where this web process does not listen (another REDIS_URL or
    CHANNEL_PREFIX)."""
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise NotFound(f"no plan {plan_key!r}")
    result = topology.ping_workers(plan, actor=request.auth)
    if result["missing"]:
        detail = (
            f"no answer from the {', '.join(result['missing'])} queue within {topology.ANSWER_TIMEOUT_SECONDS} s: "
            "is a worker consuming it, with the same REDIS_URL and CHANNEL_PREFIX as this web process?"
        )
        return Status(504, result | {"detail": detail})
    return Status(200, result)
