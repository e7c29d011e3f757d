"""The engine's tasks: component work on the `migrations` queue, the sweeper on `control`
every few seconds, and the broker's settings that make a crash safe."""

from django.conf import settings

from controlplane.celery import app
from migrations_app.engine import tasks


def queue_of(task) -> str:
    return app.amqp.router.route({}, task.name)["queue"].name


def test_component_tasks_go_to_the_migrations_queue_and_the_sweeper_to_control():
    assert queue_of(tasks.run_component) == "migrations"
    assert queue_of(tasks.run_component_rollback) == "migrations"
    assert queue_of(tasks.sweep) == "control"


def test_beat_runs_the_sweeper_on_the_control_queue():
    entry = app.conf.beat_schedule["engine-sweep"]
    assert entry["task"] == tasks.sweep.name
    assert entry["options"]["queue"] == "control"
    assert entry["schedule"] <= 30


def test_a_message_is_acknowledged_after_its_task_and_outlives_the_longest_step():
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] > settings.MAX_STEP_TIMEOUT_SECONDS
