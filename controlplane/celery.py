"""The Celery app. Two queues: `control` for short rollout and health work, `migrations`
for component migrations, so that a long migration can never starve a health gate.
Each app declares its periodic tasks in its `schedule.py`; exactly one beat runs them."""

import os

from celery import Celery
from celery.signals import worker_process_shutdown
from kombu import Exchange, Queue

from migrations_app.schedule import BEAT as MIGRATIONS_BEAT
from monitoring.schedule import BEAT as MONITORING_BEAT

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue on its own exchange and key: without them Celery binds both queues to the
# default exchange and key ("control"), and a message sent by key would land in both.
QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("control", "migrations"))
app.conf.task_queues = QUEUES
app.conf.beat_schedule = {**MIGRATIONS_BEAT, **MONITORING_BEAT}
# Each package's `tasks` module, when it has one.
app.autodiscover_tasks(["migrations_app.engine", "migrations_app.rollout", "monitoring"])


@worker_process_shutdown.connect
def _send_what_is_queued(**kwargs):
    """A prefork child leaves with os._exit, skipping atexit: send its last live events first."""
    from migrations_app import broadcast

    broadcast.flush()
