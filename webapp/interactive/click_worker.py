"""Worker side of an interactive session: one click's incremental work.

The click-independent ``prepare`` is not done here: it is cached with the photo and shared by
every session on it (``webapp.photos.prepared``: this process's memory, else storage, else
prepared on the display proxy). Each click costs only ``run_clicks`` at working resolution
(short side 360 px) plus two small PNG encodes. This module keeps a small LRU of session rows
(session → owner, engine, photo) so a click needs no database read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

import inference.engines as engines
from inference import encoding
from inference.metrics import residual_map
from webapp import events
from webapp.interactive.models import InteractiveSession, session_group
from webapp.interactive.seqstore import get_store
from webapp.interactive.worker_queue import worker_queue_name
from webapp.photos import prepared
from webapp.photos.models import Photo

log = logging.getLogger("portrait_lab.interactive")
CACHE_SIZE = int(os.environ.get("INTERACTIVE_CACHE_SIZE", 64))


@dataclass
class CachedSession:
    session_id: str
    owner_id: int
    engine_name: str
    photo: Photo


class SessionCache:
    """LRU: session id → :class:`CachedSession` (thread-safe)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[str, CachedSession] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_create(self, session_id: str, factory) -> CachedSession:
        with self._lock:
            entry = self._items.get(session_id)
            if entry is not None:
                self._items.move_to_end(session_id)
                return entry
        entry = factory()
        with self._lock:
            entry = self._items.setdefault(session_id, entry)
            self._items.move_to_end(session_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return entry

    def __contains__(self, session_id) -> bool:
        with self._lock:
            return str(session_id) in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cache = SessionCache()


def _entry_for(session_id: str) -> tuple[CachedSession, prepared.Prepared]:
    def factory():
        session = InteractiveSession.objects.select_related("photo").get(pk=session_id)
        return CachedSession(str(session.pk), session.owner_id, session.engine, session.photo)

    entry = cache.get_or_create(session_id, factory)
    return entry, prepared.prepared_state(entry.photo, entry.engine_name)


def warm_session(session_id: str) -> str:
    """Task body: have this worker hold the session's row and its photo's prepared state."""
    try:
        entry, state = _entry_for(str(session_id))
    except InteractiveSession.DoesNotExist:
        return "missing"
    return state.source


def _superseded(session_id: str, seq: int) -> bool:
    latest = get_store().get(session_id)
    return latest is not None and latest > seq


def _publish(session_id: str, message: dict) -> None:
    events.publish(session_group(session_id), message)


def execute_click(session_id: str, seq: int, clicks, params: dict | None, *, worker: str) -> str:
    """Run one click message; returns "done", "superseded", "error" or "missing".

    Publishes ``session.result`` (or ``session.error``) to the session's group for the consumer.
    """
    session_id = str(session_id)
    if _superseded(session_id, seq):
        return "superseded"
    t0 = time.perf_counter()
    queue = worker_queue_name(worker)
    try:
        entry, ready = _entry_for(session_id)
    except InteractiveSession.DoesNotExist:
        return "missing"
    except engines.EngineInputError as exc:
        _publish(session_id, {"type": "session.error", "seq": seq, "detail": str(exc), "worker_queue": queue})
        return "error"
    except Exception as exc:
        log.exception("session %s: prepare failed", session_id)
        _publish(session_id, {"type": "session.error", "seq": seq, "worker_queue": queue,
                              "detail": f"The engine could not prepare this photo: {type(exc).__name__}: {exc}"})
        return "error"
    try:
        engine = prepared.interactive_engine(entry.engine_name)
        result = engine.run_clicks(ready.state, prepared.scale_to_prepared(clicks, entry.photo, ready),
                                   params or {})
        if _superseded(session_id, seq):  # overtaken while it ran: nobody wants this picture
            return "superseded"
        out = np.clip(result["image"], 0.0, 1.0)
        residual = residual_map(out, ready.state.work)
        prefix = f"sessions/{session_id}/{seq}"
        path = default_storage.save(f"{prefix}-result.png", ContentFile(encoding.encode_png(out)))
        rpath = default_storage.save(f"{prefix}-residual.png", ContentFile(encoding.encode_png(residual)))  # grey
    except engines.EngineInputError as exc:
        _publish(session_id, {"type": "session.error", "seq": seq, "detail": str(exc), "worker_queue": queue})
        return "error"
    except Exception as exc:
        log.exception("session %s: click %s failed", session_id, seq)
        _publish(session_id, {"type": "session.error", "seq": seq, "worker_queue": queue,
                              "detail": f"The engine failed: {type(exc).__name__}: {exc}"})
        return "error"
    server_ms = round((time.perf_counter() - t0) * 1000.0, 1)
    _publish(session_id, {"type": "session.result", "seq": seq, "url": default_storage.url(path),
                          "residual_url": default_storage.url(rpath), "server_ms": server_ms,
                          "worker_queue": queue, "info": _small_info(result.get("info"))})
    _remember_worker(session_id, queue, seq)
    return "done"


def _small_info(info) -> dict:
    if not isinstance(info, dict):
        return {}
    keep = ("clicks", "emphasis_fraction", "faces_found", "working_size", "ms")
    return {k: info[k] for k in keep if k in info}


_remembered: dict[str, str] = {}


def _remember_worker(session_id: str, queue: str, seq: int) -> None:
    """Record the sticky queue on the session row (once per session and worker, not per click)."""
    if _remembered.get(session_id) == queue:
        return
    InteractiveSession.objects.filter(pk=session_id).update(worker_queue=queue, last_result_at=timezone.now())
    _remembered[session_id] = queue
