"""Topology checks of the API: is every queue served, and do workers' events reach browsers?"""

from ninja import Router, Schema

from controlplane import topology
from migrations_app.errors import NotFound
from migrations_app.models import Plan

router = Router(tags=["topology"])


class PingOut(Schema):
    ping: str
    queues: list[str]
    sent_at: str
    by: str


@router.post("/plans/{plan_key}/workers/ping", response={202: PingOut})
def ping_workers(request, plan_key: str):
    """Ask a worker on each queue to answer on the plan's websocket (`worker.answered`)."""
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise NotFound(f"no plan {plan_key!r}")
    return 202, topology.ping_workers(plan, actor=request.auth)
