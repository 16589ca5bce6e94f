"""Every worker also consumes its own queue ``interactive.<hostname>`` (sticky sessions).

Composed through Celery signals so neither the CLI worker nor the embedded one needs changing:
``worker_init`` fires in every WorkController (the embedded worker too) after ``-Q`` is applied;
``celeryd_after_setup`` fires in ``celery worker`` processes, where Django may not yet be set up
when ``worker_init`` is sent.
"""

from __future__ import annotations

from celery import signals

# The node name of the worker in this process (one per process: ``celery worker`` or the embedded
# one). Task requests do not always carry it (the embedded threads pool reports the bare host).
local_hostname: str | None = None


def worker_queue_name(hostname: str) -> str:
    """The queue only this worker consumes: clicks of the sessions whose state it holds."""
    return f"interactive.{hostname}"


def add_worker_queue(app, hostname: str) -> str:
    global local_hostname
    local_hostname = hostname
    name = worker_queue_name(hostname)
    queues = app.amqp.queues
    if name not in queues.consume_from:
        # the same declaration a producer auto-creates for ``apply_async(queue=name)``
        queues.select_add(queues[name] if name in queues else queues.new_missing(name))
    return name


@signals.worker_init.connect(weak=False)
def _on_worker_init(sender=None, **kwargs):
    if sender is not None and getattr(sender, "hostname", None):
        add_worker_queue(sender.app, sender.hostname)


@signals.celeryd_after_setup.connect(weak=False)
def _on_after_setup(sender=None, instance=None, **kwargs):
    if instance is not None and sender:
        add_worker_queue(instance.app, sender)
