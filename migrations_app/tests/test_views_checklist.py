"""The readiness checklist: ticked by an operator with their name and time, audited,
broadcast after commit, closed once the first phase has started."""

import re

import pytest
from django.db import transaction

from conftest import actor
from migrations_app import broadcast, checklist, transitions
from migrations_app.errors import Conflict, NotAllowed
from migrations_app.models import AuditEvent, ChecklistItem
from migrations_app.roles import SYSTEM
from migrations_app.states import PhaseState

TICK = "/plans/truststream-v4.2/checklist/{}/tick"
UNTICK = "/plans/truststream-v4.2/checklist/{}/untick"


@pytest.fixture
def published(monkeypatch):
    """What broadcast.send_now was asked to send (it runs only after commit)."""
    sent = []
    original = broadcast.send_now

    def record(plan_id, event, payload):
        sent.append((plan_id, str(event), payload))
        original(plan_id, event, payload)

    monkeypatch.setattr(broadcast, "send_now", record)
    return sent


@pytest.mark.django_db
def test_an_operator_ticks_an_item_with_their_name_and_the_time(logged_in, operator, demo_plan):
    response = logged_in(operator).post(TICK.format(1), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Ticked: Database backup: complete backup of production database" in response.content.decode()
    assert response["HX-Trigger"] == "sy:resync"
    item = ChecklistItem.objects.get(plan=demo_plan, position=1)
    assert item.checked_by == operator
    assert item.checked_at is not None
    event = AuditEvent.objects.get(action="checklist.ticked")
    assert event.actor_name == "olga-operator"
    assert event.after["checked_by"] == "olga-operator"
    assert event.before == {"checked_by": None, "checked_at": None}


@pytest.mark.django_db
def test_the_overview_shows_who_ticked_and_when_with_the_exact_time_on_hover(logged_in, operator, viewer, demo_plan):
    logged_in(operator).post(TICK.format(0))
    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    html = logged_in(viewer).get("/plans/truststream-v4.2/").content.decode()
    block = re.search(r'id="checklist-item-0".*?</li>', html, re.S).group(0)
    assert "Ticked by <strong>olga-operator</strong>" in block
    assert f'title="{item.checked_at:%Y-%m-%d %H:%M:%S} UTC"' in block
    assert f'datetime="{item.checked_at.isoformat()}"' in block


@pytest.mark.django_db
def test_without_javascript_a_tick_redirects_back_with_a_message(logged_in, operator, demo_plan):
    response = logged_in(operator).post(TICK.format(2), follow=True)
    assert response.redirect_chain == [("/plans/truststream-v4.2/", 303)]
    assert "Ticked: Environment preparation" in response.content.decode()


@pytest.mark.django_db
def test_ticking_a_ticked_item_says_who_ticked_it_and_changes_nothing(logged_in, operator, admin_user, demo_plan):
    logged_in(operator).post(TICK.format(0))
    first = ChecklistItem.objects.get(plan=demo_plan, position=0).checked_at
    response = logged_in(admin_user).post(TICK.format(0), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "already ticked by olga-operator" in response.content.decode()
    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    assert (item.checked_by, item.checked_at) == (operator, first)
    assert AuditEvent.objects.filter(action="checklist.ticked").count() == 1


@pytest.mark.django_db
def test_unticking_clears_who_and_when_and_keeps_the_reason(logged_in, operator, demo_plan):
    client = logged_in(operator)
    client.post(TICK.format(3))
    response = client.post(UNTICK.format(3), {"reason": "training moved to next week"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    item = ChecklistItem.objects.get(plan=demo_plan, position=3)
    assert (item.checked_by, item.checked_at) == (None, None)
    event = AuditEvent.objects.get(action="checklist.unticked")
    assert event.reason == "training moved to next week"
    assert event.before["checked_by"] == "olga-operator"


@pytest.mark.django_db
def test_the_checklist_is_closed_once_the_first_phase_has_started(logged_in, operator, demo_plan):
    client = logged_in(operator)
    client.post(TICK.format(0))
    transitions.apply(demo_plan.phases.get(position=0), PhaseState.IN_PROGRESS, actor=SYSTEM)
    response = client.post(UNTICK.format(0), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "the readiness checklist is closed once it has started" in response.content.decode()
    assert ChecklistItem.objects.get(plan=demo_plan, position=0).checked_by == operator
    page = client.get("/plans/truststream-v4.2/").content.decode()
    assert (
        "Ticking is not available: the first phase (Infrastructure Setup) is in progress: "
        "the readiness checklist is closed once it has started" in page
    )


@pytest.mark.django_db
def test_a_viewer_sees_the_tick_buttons_disabled_with_the_reason(logged_in, viewer, demo_plan):
    html = logged_in(viewer).get("/plans/truststream-v4.2/").content.decode()
    assert "Ticking is not available: needs the operator or admin role" in html
    buttons = re.findall(r'<button type="submit" class="btn primary" aria-label="Tick: [^"]+"([^>]*)>', html)
    assert len(buttons) == 7
    assert all('disabled aria-describedby="why-checklist"' in b for b in buttons)


@pytest.mark.django_db
def test_a_token_cannot_tick_because_a_person_vouches_for_each_item(demo_plan):
    from migrations_app.roles import CLI

    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    with pytest.raises(Conflict, match="ticked by a person"):
        checklist.tick(item, actor=CLI)
    item.refresh_from_db()
    assert item.checked_at is None


@pytest.mark.django_db
def test_the_service_refuses_a_viewer(viewer, demo_plan):
    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    with pytest.raises(NotAllowed, match="needs the operator or admin role"):
        checklist.tick(item, actor=actor(viewer))
    assert not AuditEvent.objects.filter(action__startswith="checklist").exists()


@pytest.mark.django_db(transaction=True)
def test_a_tick_is_broadcast_only_after_it_commits(operator, demo_plan, published):
    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    with transaction.atomic():
        checklist.tick(item, actor=actor(operator))
        assert published == []
    events = [event for _, event, _ in published]
    assert events == ["checklist.changed", "audit.recorded"]  # the change first, then its audit event
    assert published[0][2] == {"id": item.pk, "position": 0, "checked": True, "by": "olga-operator"}


@pytest.mark.django_db(transaction=True)
def test_a_tick_rolled_back_is_never_broadcast(operator, demo_plan, published):
    item = ChecklistItem.objects.get(plan=demo_plan, position=0)
    with pytest.raises(RuntimeError), transaction.atomic():
        checklist.tick(item, actor=actor(operator))
        raise RuntimeError("the surrounding work failed")
    assert published == []
    item.refresh_from_db()
    assert item.checked_at is None
