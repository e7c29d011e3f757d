"""The Celery app. Two queues: `control` for short rollout and health work, `migrations`
for component migrations, so that a long migration can never starve a health gate."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("control"), Queue("migrations"))
app.autodiscover_tasks()
