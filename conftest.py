"""Shared fixtures: empty task queues for every test, one persona per role, and the plans
the tests act on."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from controlplane.celery import app
from migrations_app.planfile import load_plan, parse_plan, parse_plan_file
from migrations_app.roles import CLI, Actor, Role

ROOT = Path(__file__).resolve().parent
DEMO_PLAN = ROOT / "plans" / "truststream-v4.2.yaml"
TINY_PLAN = ROOT / "migrations_app" / "tests" / "plans" / "tiny.yaml"
PASSWORD = "correct-horse-battery-staple"


def make_user(django_user_model, username, *roles):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    # get_or_create: transactional tests flush the groups the data migration made.
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
    return user


@pytest.fixture(autouse=True)
def empty_task_queues():
    """Each test starts with the broker's queues empty: a task an earlier test sent, and no
    worker took, would otherwise run in the next test that starts a worker (and act on,
    or speak for, that test's plan)."""
    app.control.purge()


@pytest.fixture
def broker_unreachable():
    """The Celery broker at a port nothing listens on, as in a Redis outage, for the tasks
    this process sends (Celery keeps its connection pools on the app: they are set aside
    for the test and put back after)."""
    from tests.e2e.server import free_port

    saved = app.conf.broker_write_url, app._pool, app.amqp._producer_pool
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    app._pool = app.amqp._producer_pool = None
    yield
    app.conf.broker_write_url, app._pool, app.amqp._producer_pool = saved


@pytest.fixture
def viewer(django_user_model):
    return make_user(django_user_model, "vera-viewer", Role.VIEWER)


@pytest.fixture
def operator(django_user_model):
    return make_user(django_user_model, "olga-operator", Role.OPERATOR)


@pytest.fixture
def approver(django_user_model):
    return make_user(django_user_model, "anna-approver", Role.APPROVER)


@pytest.fixture
def second_approver(django_user_model):
    return make_user(django_user_model, "ben-approver", Role.APPROVER)


@pytest.fixture
def admin_user(django_user_model):
    return make_user(django_user_model, "ada-admin", Role.ADMIN)


@pytest.fixture
def nobody(django_user_model):
    """Logged in, but in no role group."""
    return make_user(django_user_model, "norm-nobody")


@pytest.fixture
def personas(viewer, operator, approver, admin_user, nobody):
    return {"viewer": viewer, "operator": operator, "approver": approver, "admin": admin_user, "nobody": nobody}


def actor(user) -> Actor:
    return Actor.for_user(user)


@pytest.fixture
def demo_plan(db):
    spec, source = parse_plan_file(DEMO_PLAN)
    return load_plan(spec, source, actor=CLI).plan


@pytest.fixture
def tiny_plan(db):
    text = TINY_PLAN.read_text()
    return load_plan(parse_plan(text), text, actor=CLI).plan


@pytest.fixture
def logged_in(client):
    """`logged_in(user)` returns the test client with that user's session."""

    def login(user):
        client.force_login(user)
        return client

    return login
