"""The first dashboard pages: server-rendered, behind a login and a role."""

import re

import pytest

from migrations_app.models import ChecklistItem, Component


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.django_db
def test_the_operator_sees_the_plan_list(logged_in, operator, demo_plan):
    response = logged_in(operator).get("/")
    assert response.status_code == 200
    assert "TrustStream v4.1 to v4.2 (provider-agnostic)" in text_of(response)
    assert 'href="/plans/truststream-v4.2/"' in response.content.decode()


@pytest.mark.django_db
def test_the_plan_page_shows_phases_checklist_and_every_component(logged_in, operator, demo_plan):
    response = logged_in(operator).get("/plans/truststream-v4.2/")
    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    assert len(re.findall(r'<li class="phase phase-pending"', html)) == 5
    for name in (
        "Infrastructure Setup",
        "Service Abstraction",
        "Component Migration",
        "Testing and Validation",
        "Production Deployment",
    ):
        assert name in text
    for item in ChecklistItem.objects.filter(plan=demo_plan):
        assert item.text in text
    assert html.count("<li>☐") == 7
    for component in Component.objects.filter(plan=demo_plan):
        assert f'id="component-{component.name}"' in html
    # Dependencies are visible next to the component.
    row = re.search(r'id="component-coordination-service".*?</tr>', html, re.S).group(0)
    assert "agent-service, trust-service" in row


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/plans/truststream-v4.2/"])
def test_a_user_without_a_role_is_refused(logged_in, nobody, demo_plan, path):
    response = logged_in(nobody).get(path)
    assert response.status_code == 403
    assert "needs a viewer, operator, approver or admin role" in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_plan_is_404(logged_in, viewer):
    assert logged_in(viewer).get("/plans/no-such-plan/").status_code == 404


@pytest.mark.django_db
def test_logging_in_lands_on_the_plans(client, operator, demo_plan):
    from conftest import PASSWORD

    response = client.post("/accounts/login/", {"username": operator.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert "TrustStream" in text_of(response)


@pytest.mark.django_db
def test_logout_needs_a_post_with_csrf(client, operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert strict.post("/accounts/logout/").status_code == 403
