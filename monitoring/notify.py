"""Notifications to a Slack-compatible webhook (ALERT_WEBHOOK_URL), with a delivery log.

`send` records a delivery in the caller's transaction and queues the first attempt after
commit; `deliver` makes one attempt, claimed with a conditional update so that a retry
and the periodic sweep never both send it. A failed attempt is retried after 5 s, 30 s,
2 min and 10 min, then the delivery is marked failed. Without ALERT_WEBHOOK_URL a
delivery is logged as skipped, so the log still shows what would have been sent.
"""

import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from controlplane import dispatch
from migrations_app.models import Plan
from monitoring.models import WebhookDelivery

# Seconds to wait before the attempt that follows attempt N (1-based); len + 1 attempts.
BACKOFF_SECONDS = (5, 30, 120, 600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
TIMEOUT_SECONDS = 10
# While an attempt is in flight its delivery is not due: a crashed sender is retried after this.
ATTEMPT_LEASE = timedelta(seconds=TIMEOUT_SECONDS + 20)


def plain(data) -> dict:
    """`data` as plain JSON values (datetimes, decimals and UUIDs as strings)."""
    return json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))


def message(plan: Plan | None, kind: str, text: str, data: dict) -> dict:
    """Slack's incoming-webhook shape: `text` is what a channel shows; the rest is for machines."""
    prefix = f"[Switchyard {plan.key}] " if plan else "[Switchyard] "
    return {"text": prefix + text, "switchyard": {"plan": plan.key if plan else None, "kind": kind, "data": data}}


def send(plan: Plan | None, kind: str, text: str, data: dict | None = None, *, alert=None) -> WebhookDelivery:
    """Notify the webhook: `kind` is "alert", "rollback", "promotion", ...; `text` one line
    an operator reads in a channel; `data` the figures behind it. Returns the delivery row;
    the first attempt starts once the caller's transaction commits."""
    url = settings.ALERT_WEBHOOK_URL
    data = plain(data)
    delivery = WebhookDelivery.objects.create(
        plan=plan,
        alert=alert,
        kind=kind,
        text=text,
        payload=message(plan, kind, text, data),
        target_host=urlsplit(url).hostname or "" if url else "",
        state=WebhookDelivery.State.PENDING if url else WebhookDelivery.State.SKIPPED,
        next_attempt_at=timezone.now() if url else None,
    )
    if url:
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _enqueue(delivery_id: int) -> None:
    from monitoring.tasks import deliver_webhook

    dispatch.send(deliver_webhook, (delivery_id,), recovered_by="the periodic sweep (deliver_due) sends it later")


def deliver(delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """One attempt at a due, pending delivery; returns it as it stands after, or None
    when there was nothing to do (not due, already sent, claimed by someone else)."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, state=WebhookDelivery.State.PENDING).first()
    if delivery is None or (delivery.next_attempt_at and delivery.next_attempt_at > now):
        return None
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, state=WebhookDelivery.State.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + ATTEMPT_LEASE)
    if not claimed:
        return None
    attempt = delivery.attempts + 1
    status, error = None, ""
    try:
        response = httpx.post(settings.ALERT_WEBHOOK_URL, json=delivery.payload, timeout=TIMEOUT_SECONDS)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"answered {status}: {response.text[:200]}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    finished = timezone.now()
    if not error:
        fields = {"state": WebhookDelivery.State.DELIVERED, "delivered_at": finished, "next_attempt_at": None}
    elif attempt >= MAX_ATTEMPTS:
        fields = {"state": WebhookDelivery.State.FAILED, "next_attempt_at": None}
    else:
        fields = {"next_attempt_at": finished + timedelta(seconds=BACKOFF_SECONDS[attempt - 1])}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_status_code=status, last_error=error, **fields)
    delivery.refresh_from_db()
    return delivery


def deliver_due(now: datetime | None = None) -> int:
    """Attempt every pending delivery whose time has come; returns how many were attempted."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
    return sum(deliver(pk, now) is not None for pk in due.order_by("id").values_list("pk", flat=True)[:100])
