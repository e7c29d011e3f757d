"""The embedded topology's Celery: a worker and beat in threads of this process, on the
in-memory broker, stopped with the web server and letting running tasks finish."""

import asyncio
import os
import threading
import time

import pytest
from celery import Celery
from django.conf import settings
from django.test import override_settings

from controlplane.celery import QUEUES
from controlplane.celery import app as default_app
from controlplane.embedded import EmbeddedCelery
from controlplane.tests.relay import relay_socket

THREAD_SAFE = {
    "default": {
        "BACKEND": "controlplane.layers.ThreadSafeInMemoryChannelLayer",
        "CONFIG": {"capacity": settings.CHANNEL_CAPACITY},
    }
}


@pytest.fixture
def memory_app(tmp_path):
    """The project's Celery configuration on `memory://`, as the embedded settings make it."""
    app = Celery("switchyard-embedded", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = "memory://localhost/"
    app.conf.broker_transport_options = {"polling_interval": 0.05}
    app.conf.task_queues = QUEUES
    app.conf.beat_schedule_filename = str(tmp_path / "celerybeat-schedule")
    yield app
    default_app.set_current()
    default_app.set_default()


@pytest.fixture
def embedded(memory_app):
    started = []

    def start():
        celery = EmbeddedCelery(memory_app, threads=2)
        celery.start()
        started.append(celery)
        return celery

    yield start
    for celery in started:
        celery.stop(timeout=5)
        assert celery.join(10), "the worker thread did not end"


@pytest.fixture
def blocking_task(memory_app):
    """A task that runs until `release` is set, then records that it finished."""
    release, finished = threading.Event(), []

    @memory_app.task(name="tests.blocking", shared=False)
    def blocking():
        release.wait(30)
        finished.append(True)

    return blocking, release, finished


def wait_until_running(celery: EmbeddedCelery) -> list[str]:
    deadline = time.monotonic() + 30
    while not celery.running_tasks():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.02)
    return celery.running_tasks()


@pytest.mark.asyncio
@pytest.mark.django_db  # no rows, but a consumer closes stale database connections between messages
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_beat_sends_a_periodic_task_that_the_worker_thread_runs_and_publishes(memory_app, embedded):
    plan_id = 4242  # a plan group; the relay needs no rows
    memory_app.conf.beat_schedule = {
        "answer": {
            "task": "controlplane.tasks.answer_ping",
            "schedule": 0.3,
            "args": (plan_id, "from-beat", "control", "2026-01-01T00:00:00+00:00"),
        }
    }
    socket = relay_socket(plan_id)
    assert (await socket.connect())[0]
    await asyncio.to_thread(embedded)
    # Twice: beat keeps ticking after its first send.
    answers = [(await socket.receive_json_from(timeout=30)) for _ in range(2)]
    await socket.disconnect()
    assert [(a["event"], a["payload"]["ping"], a["payload"]["pid"]) for a in answers] == [
        ("worker.answered", "from-beat", os.getpid()),
        ("worker.answered", "from-beat", os.getpid()),
    ]


def test_stopping_lets_a_running_task_finish(embedded, blocking_task):
    blocking, release, finished = blocking_task
    celery = embedded()
    blocking.apply_async(queue="control")
    wait_until_running(celery)
    threading.Timer(0.3, release.set).start()
    assert celery.stop(timeout=30) == []
    assert finished == [True]


def test_stopping_names_the_tasks_that_outlast_the_grace_period(embedded, blocking_task):
    blocking, release, finished = blocking_task
    celery = embedded()
    task_id = blocking.apply_async(queue="migrations").id
    wait_until_running(celery)
    assert celery.stop(timeout=0.2) == [f"tests.blocking[{task_id}]"]
    assert finished == []
    release.set()
    assert celery.join(10)
    assert finished == [True]
