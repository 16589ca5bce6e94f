"""Push job and session events to browsers through the channel layer.

The embedded server keeps an in-memory channel layer bound to its event loop; a worker thread
in the same process must hand its sends to that loop rather than run them on a loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading

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


_publisher_loop: asyncio.AbstractEventLoop | None = None


def _publishing_loop() -> asyncio.AbstractEventLoop:
    """The loop sends run on: the server's own, or one long-lived loop thread per process.

    ``async_to_sync`` would make a fresh loop per call, and the Redis channel layer keeps its
    connections per loop: every event would pay for a new connection.
    """
    global _publisher_loop
    with _lock:
        if _home_loop is not None and _home_loop.is_running():
            return _home_loop
        if _publisher_loop is None or _publisher_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="event-publisher", daemon=True).start()
            _publisher_loop = loop
        return _publisher_loop


def publish(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = _publishing_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(layer.group_send(group, message))
        else:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=5)
    except Exception:  # an event lost is a UI nuisance, never a reason to fail the job
        log.exception("could not publish event to %s", group)
