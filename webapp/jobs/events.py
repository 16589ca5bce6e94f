"""Push job and session events to browsers through the channel layer.

The embedded server keeps an in-memory channel layer bound to its event loop; a worker thread
in the same process must hand its sends to that loop rather than run them on a loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("portrait_lab.events")
_home_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the embedded server once its loop runs (see ``manage.py serve``)."""
    global _home_loop
    with _lock:
        _home_loop = loop


def user_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def publish(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = _home_loop
        if loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                loop.create_task(layer.group_send(group, message))
            else:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=5)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # an event lost is a UI nuisance, never a reason to fail the job
        log.exception("could not publish event to %s", group)
