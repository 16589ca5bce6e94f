"""The Celery application (``celery -A webapp worker -Q gpu`` / ``-Q cpu``)."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue has its own exchange and key: sharing the default one would copy every task into both.
app.conf.task_queues = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ("gpu", "cpu"))
app.autodiscover_tasks(["webapp.jobs", "webapp.interactive", "webapp.photos"])
