"""Approvals (four eyes): request, approve, reject, expire, invalidate.

A request names what would change (a summary, and a fingerprint of the thing approved). It
needs `required_approvals` distinct approvers, none of them the requester, each a person.
A change to the thing approved invalidates it, it expires after the plan's
`approval_expiry_hours` (lazily when read, and by a periodic task), and a rejection with a
reason ends it. What an approval does, and how its fingerprint is computed, depends on its
kind: the handlers live with the thing approved (promotion.py, rollout/).

Lock order: the plan row, then the approval row, then whatever the effect changes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from migrations_app import audit, broadcast
from migrations_app.broadcast import Event
from migrations_app.errors import Conflict, InvalidInput, NotAllowed, NotFound
from migrations_app.models import Approval, ApprovalVote, Plan
from migrations_app.roles import SYSTEM, Actor, Permission

State = Approval.State


@dataclass(frozen=True)
class KindHandler:
    fingerprint: Callable[[Approval], str]  # the current fingerprint of the thing approved
    on_approved: Callable[[Approval, Actor], None]  # apply the change, inside the transaction
    on_ended: Callable[[Approval, Actor, str], None]  # rejected, expired or invalidated


def handler(kind: str) -> KindHandler:
    # Imported here: the handlers' modules request and invalidate approvals themselves.
    from migrations_app import promotion
    from migrations_app.rollout import emergency, services

    handlers = {
        Approval.Kind.PHASE_PROMOTION: promotion.HANDLER,
        Approval.Kind.ROLLOUT_STEP: services.STEP_HANDLER,
        Approval.Kind.CLEAR_FORCE_ORIGINAL: emergency.CLEAR_HANDLER,
    }
    return handlers[kind]


def describe(approval: Approval) -> dict:
    return {
        "id": approval.pk,
        "kind": approval.kind,
        "state": approval.state,
        "summary": approval.summary,
        "required_approvals": approval.required_approvals,
        "votes": [vote.approver.get_username() for vote in approval.votes.select_related("approver")],
        "requested_by": approval.requested_by_name,
        "expires_at": approval.expires_at.isoformat(),
    }


def _publish(approval: Approval) -> None:
    broadcast.publish(approval.plan_id, Event.APPROVAL_CHANGED, describe(approval))


def request(
    *,
    plan: Plan,
    kind: str,
    summary: str,
    fingerprint: str,
    required: int,
    actor: Actor,
    reason: str = "",
    phase=None,
    rollout=None,
    target_percentage: int | None = None,
) -> Approval:
    """Open a request (inside the caller's transaction, with the plan locked)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                plan=plan,
                kind=kind,
                phase=phase,
                rollout=rollout,
                target_percentage=target_percentage,
                summary=summary,
                fingerprint=fingerprint,
                required_approvals=max(1, required),
                requested_by=actor.user,
                requested_by_name=actor.name,
                expires_at=now + timedelta(hours=plan.approval_expiry_hours),
            )
    except IntegrityError:
        raise Conflict(f"a {Approval.Kind(kind).label.lower()} request is already pending for this") from None
    audit.record(
        actor=actor,
        action="approval.requested",
        target=approval,
        after={"kind": kind, "summary": summary, "required_approvals": approval.required_approvals},
        reason=reason,
        plan=plan,
    )
    _publish(approval)
    return approval


def get(approval_id: int) -> Approval:
    """The request, expired first if its time has passed (expiry is applied lazily on read)."""
    approval = Approval.objects.filter(pk=approval_id).first()
    if approval is None:
        raise NotFound(f"no approval request {approval_id}")
    if approval.state == State.PENDING and approval.expires_at <= timezone.now():
        expire(approval)
        approval.refresh_from_db()
    return approval


def _lock(approval: Approval) -> Approval:
    Plan.objects.select_for_update().get(pk=approval.plan_id)
    return Approval.objects.select_for_update().get(pk=approval.pk)


def _closed(approval: Approval) -> str:
    message = f"approval request {approval.pk} is already {approval.get_state_display().lower()}"
    return f"{message} ({approval.decision_reason})" if approval.decision_reason else message


def _end(approval: Approval, state: str, *, actor: Actor, reason: str) -> None:
    """Close a locked pending request and undo what waiting for it held."""
    now = timezone.now()
    Approval.objects.filter(pk=approval.pk).update(state=state, decided_at=now, decision_reason=reason)
    approval.state, approval.decided_at, approval.decision_reason = state, now, reason
    audit.record(
        actor=actor,
        action=f"approval.{state}",
        target=approval,
        before={"state": State.PENDING},
        after={"state": state},
        reason=reason,
        plan=approval.plan,
    )
    handler(approval.kind).on_ended(approval, actor, reason)
    _publish(approval)


def _is_requester(approval: Approval, actor: Actor) -> bool:
    return actor.is_person and approval.requested_by_id is not None and approval.requested_by_id == actor.user.pk


def blockers(approval: Approval, actor: Actor, *, voter_ids: set[int], now) -> dict[str, list[str]]:
    """Why `actor` may not approve or reject the request now ([] when they may), in the
    words approve() and reject() refuse with; roles aside. `voter_ids`: who approved so far."""
    closed = []
    if approval.state != State.PENDING:
        closed = [_closed(approval)]
    elif approval.expires_at <= now:
        closed = [f"approval request {approval.pk} expired at {approval.expires_at:%Y-%m-%d %H:%M} UTC"]
    own = []
    if _is_requester(approval, actor):
        own = [f"{actor.name} requested this and may not approve it: another approver must (four eyes)"]
    voted = []
    if actor.is_person and actor.user.pk in voter_ids:
        voted = [f"{actor.name} has already approved request {approval.pk}"]
    return {"approve": closed + own + voted, "reject": closed}


def approve(approval: Approval, *, actor: Actor, comment: str = "") -> Approval:
    """Record the actor's vote; with enough distinct votes, approve and apply the change.

    1. Only a person with the approver role approves (a session or a personal token).
    2. Lock the plan and the request; a request past its time expires now, and is refused.
    3. Refuse a request that is no longer pending, the requester's own vote, a second vote.
    4. If the thing approved changed since the request, invalidate it, and refuse.
    5. Record the vote; when the votes reach `required_approvals`, approve and apply.
    """
    actor.require(Permission.APPROVE, "approve requests")
    if not actor.is_person:
        raise NotAllowed(f"{actor.name} may not approve: only a person approves (a login or a personal token)")
    refusal = None
    with transaction.atomic():
        current = _lock(approval)
        now = timezone.now()
        voters = set(current.votes.values_list("approver_id", flat=True))
        refused = blockers(current, actor, voter_ids=voters, now=now)["approve"]
        if current.state == State.PENDING and current.expires_at <= now:
            _end(current, State.EXPIRED, actor=SYSTEM, reason=f"expired at {current.expires_at:%Y-%m-%d %H:%M} UTC")
            refusal = Conflict(refused[0])
        elif refused:
            raise (NotAllowed if _is_requester(current, actor) and current.state == State.PENDING else Conflict)(
                refused[0]
            )
        elif handler(current.kind).fingerprint(current) != current.fingerprint:
            reason = "what it approves changed since it was requested"
            _end(current, State.INVALIDATED, actor=SYSTEM, reason=reason)
            refusal = Conflict(f"approval request {current.pk} is no longer valid: {reason}; request it again")
        else:
            ApprovalVote.objects.create(approval=current, approver=actor.user, comment=comment)
            votes = current.votes.count()
            audit.record(
                actor=actor,
                action="approval.voted",
                target=current,
                after={"votes": votes, "required_approvals": current.required_approvals},
                reason=comment,
                plan=current.plan,
            )
            if votes >= current.required_approvals:
                now = timezone.now()
                Approval.objects.filter(pk=current.pk).update(state=State.APPROVED, decided_at=now)
                current.state, current.decided_at = State.APPROVED, now
                audit.record(
                    actor=actor,
                    action="approval.approved",
                    target=current,
                    before={"state": State.PENDING},
                    after={"state": State.APPROVED},
                    plan=current.plan,
                )
                handler(current.kind).on_approved(current, actor)
            _publish(current)
    if refusal is not None:
        raise refusal
    return current


def reject(approval: Approval, *, actor: Actor, reason: str) -> Approval:
    """End the request with a reason; what waited for it goes back (phase in progress, rollout paused)."""
    actor.require(Permission.APPROVE, "reject requests")
    if not actor.is_person:
        raise NotAllowed(f"{actor.name} may not reject: only a person decides (a login or a personal token)")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: a rejection needs a reason")
    with transaction.atomic():
        current = _lock(approval)
        refused = blockers(current, actor, voter_ids=set(), now=timezone.now())["reject"]
        if current.state != State.PENDING:
            raise Conflict(refused[0])
        _end(current, State.REJECTED, actor=actor, reason=reason)
    return current


def expire(approval: Approval) -> bool:
    """Expire one request if it is pending and past its time; True when it did."""
    with transaction.atomic():
        current = _lock(approval)
        if current.state != State.PENDING or current.expires_at > timezone.now():
            return False
        _end(current, State.EXPIRED, actor=SYSTEM, reason=f"expired at {current.expires_at:%Y-%m-%d %H:%M} UTC")
    return True


def expire_due() -> int:
    """The periodic sweep: expire every pending request past its time."""
    due = Approval.objects.filter(state=State.PENDING, expires_at__lte=timezone.now()).order_by("pk")
    return sum(expire(approval) for approval in due)


def invalidate(pending, *, actor: Actor, reason: str) -> int:
    """Invalidate pending requests (a queryset), inside the caller's transaction with the plan locked."""
    count = 0
    for approval in pending.filter(state=State.PENDING).select_for_update().order_by("pk"):
        _end(approval, State.INVALIDATED, actor=actor, reason=reason)
        count += 1
    return count
