"""The Celery application (``celery -A webapp worker -Q gpu`` / ``-Q cpu``)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("gpu"), Queue("cpu"))
app.autodiscover_tasks(["webapp.jobs", "webapp.interactive"])
