"""Interactive engines' prepared states, cached with the photo and shared by every session.

``prepare`` (faces, people mask, superpixels, statistics: everything that does not depend on the
clicks) runs once per photo and engine version, on the photo's display proxy (≤ 1600 px long
side), in the background after an upload (task ``photos.prepare_interactive``) or when a session
opens. Three layers, the first that has it wins:

1. this process's LRU (:data:`cache`, ``PREPARED_CACHE_SIZE`` photos, default 8);
2. storage: ``photos/prepared/<display stem>-<engine>@<version>.state`` through Django's default
   storage, next to the photo's proxies, recorded in ``Photo.prepared`` — any worker that lacks
   the state in memory loads it (a few ms) instead of preparing again (about half a second);
3. ``engine.prepare`` on the display proxy, then stored (engines that implement
   ``inference.interface.StoredStateEngine``; others keep it in memory only).

A new engine version is a new key: the stored state of the old version is ignored, replaced and
deleted. Within one process, one preparation runs at a time per (photo, engine); the others wait
for it. Full-resolution jobs on the photo use the same state (``webapp.jobs.execution``), so the
downloaded result matches the preview the clicks produced.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

import inference.engines as engines
from inference import imageio
from inference.clicks import parse_clicks, scale_clicks
from inference.interface import StoredStateEngine
from inference.statecodec import StateFormatError
from webapp.celery import app as celery_app
from webapp.engine_pool import warm_engine
from webapp.photos.models import Photo

log = logging.getLogger("portrait_lab.photos")
PREPARE_TASK = "photos.prepare_interactive"  # webapp/photos/tasks.py, sent by name
PREPARE_EXPIRES_SECONDS = 600
CACHE_SIZE = int(os.environ.get("PREPARED_CACHE_SIZE", 8))


@dataclass
class Prepared:
    engine: str
    version: str
    state: Any
    size: tuple[int, int]  # (width, height) of the image prepare() saw
    source: str  # where this process got it: "computed" or "storage"
    ms: float  # what getting it cost this process


class PreparedCache:
    """This process's LRU: (photo id, engine, version) → :class:`Prepared`; one preparation at a
    time per key. ``computed`` and ``loaded`` count preparations and storage loads (tests, bench)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.computed = 0
        self.loaded = 0

    def get(self, key: tuple) -> Prepared | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: Prepared) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                old, _ = self._items.popitem(last=False)
                self._key_locks.pop(old, None)

    def key_lock(self, key: tuple) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._key_locks.clear()
            self.computed = self.loaded = 0


cache = PreparedCache()


def interactive_engine(name: str) -> engines.InteractiveEngine:
    engine = warm_engine(name)
    if not isinstance(engine, engines.InteractiveEngine):
        raise engines.EngineInputError(f"engine {name} has no interactive session API")
    return engine


def prepared_state(photo: Photo, engine_name: str) -> Prepared:
    """The photo's prepared state for ``engine_name``: from memory, else storage, else prepared."""
    engine = interactive_engine(engine_name)
    key = (photo.pk, engine.spec.name, engine.spec.version)
    item = cache.get(key)
    if item is not None:
        return item
    with cache.key_lock(key):
        item = cache.get(key)
        if item is None:
            item = _load(photo, engine) or _compute(photo, engine)
            cache.put(key, item)
        return item


def _stored_entry(photo_id: int, spec) -> dict | None:
    # Read afresh: the caller's Photo may predate the worker that stored the state.
    stored = Photo.objects.filter(pk=photo_id).values_list("prepared", flat=True).first() or {}
    entry = stored.get(spec.name)
    return entry if isinstance(entry, dict) and entry.get("version") == spec.version else None


def _load(photo: Photo, engine) -> Prepared | None:
    if not isinstance(engine, StoredStateEngine):
        return None
    spec = engine.spec
    entry = _stored_entry(photo.pk, spec)
    if entry is None:
        return None
    t0 = time.perf_counter()
    try:
        with default_storage.open(entry["path"], "rb") as fh:
            state = engine.load_state(fh.read())
    except (OSError, StateFormatError) as exc:
        log.warning("photo %s: stored %s state %s unusable (%s); preparing again", photo.pk, spec.name,
                    entry.get("path"), exc)
        return None
    cache.loaded += 1
    width, height = entry["size"]
    return Prepared(spec.name, spec.version, state, (int(width), int(height)), "storage",
                    (time.perf_counter() - t0) * 1000.0)


def load_display(photo: Photo) -> np.ndarray:
    """The image ``prepare`` sees: the display proxy (≤ 1600 px long side), else the working one."""
    name = photo.display.name or photo.working.name
    with default_storage.open(name, "rb") as fh:
        return imageio.decode(fh.read(), max_pixels=10**9).rgb


def _compute(photo: Photo, engine) -> Prepared:
    t0 = time.perf_counter()
    image = load_display(photo)
    state = engine.prepare(image)
    cache.computed += 1
    size = (image.shape[1], image.shape[0])
    spec = engine.spec
    if isinstance(engine, StoredStateEngine):
        try:
            _store(photo, spec, engine.dump_state(state), size)
        except Exception:  # the session still works from memory; the next worker prepares again
            log.exception("photo %s: could not store the prepared %s state", photo.pk, spec.name)
    return Prepared(spec.name, spec.version, state, size, "computed", (time.perf_counter() - t0) * 1000.0)


def _store(photo: Photo, spec, data: bytes, size: tuple[int, int]) -> None:
    stem = PurePosixPath(photo.display.name or photo.working.name).stem
    path = default_storage.save(f"photos/prepared/{stem}-{spec.name}@{spec.version}.state", ContentFile(data))
    with transaction.atomic():
        row = Photo.objects.select_for_update().filter(pk=photo.pk).first()
        if row is None:  # deleted meanwhile
            default_storage.delete(path)
            return
        old = row.prepared.get(spec.name) if isinstance(row.prepared, dict) else None
        row.prepared = {**(row.prepared or {}), spec.name: {"version": spec.version, "path": path,
                                                            "size": list(size)}}
        row.save(update_fields=["prepared"])
    if isinstance(old, dict) and old.get("path") and old["path"] != path:
        default_storage.delete(old["path"])  # an older engine version's, or a racing worker's


def prepared_engines(photo: Photo) -> list[str]:
    """Engines whose state for the current version is stored with ``photo``."""
    stored = photo.prepared if isinstance(photo.prepared, dict) else {}
    return sorted(name for name, entry in stored.items() if name in engines.names()
                  and isinstance(entry, dict) and entry.get("version") == engines.spec(name).version)


def storable_engines() -> list[str]:
    """The interactive engines whose prepared state can be stored with a photo."""
    return sorted(cls.spec.name for cls in engines.ENGINES
                  if cls.spec.interactive and issubclass(cls, StoredStateEngine))


def request_prepare(photo: Photo, engine_names: list[str] | None = None, *, queue: str | None = None) -> None:
    """Prepare ``photo`` for ``engine_names`` (default: every storable interactive engine) in the
    background once the current transaction commits: one task per queue (the engine's, or ``queue``)."""
    names = storable_engines() if engine_names is None else list(engine_names)
    by_queue: dict[str, list[str]] = {}
    for name in names:
        by_queue.setdefault(queue or engines.spec(name).queue, []).append(name)

    def send() -> None:
        for target, group in by_queue.items():
            try:
                celery_app.send_task(PREPARE_TASK, args=[photo.pk, group], queue=target,
                                     expires=PREPARE_EXPIRES_SECONDS)
            except Exception:  # the first click prepares instead; never fail the upload for this
                log.exception("photo %s: could not queue the prepare task", photo.pk)

    if by_queue:
        transaction.on_commit(send)


def prepare_photo(photo_id: int, engine_names: list[str]) -> list[str]:
    """The task's body: make sure this worker holds (and storage has) each state; returns the
    engines now prepared."""
    photo = Photo.objects.filter(pk=photo_id).first()
    done: list[str] = []
    if photo is None:
        return done
    for name in engine_names:
        try:
            prepared_state(photo, name)
            done.append(name)
        except Exception:
            log.exception("photo %s: preparing %s failed", photo_id, name)
    return done


def scale_to_prepared(clicks, photo: Photo, prepared: Prepared) -> list[dict]:
    """Clicks in the original's pixels → the prepared image's pixels (what ``run_clicks`` takes)."""
    w, h = photo.width, photo.height
    pw, ph = prepared.size
    scaled = scale_clicks(parse_clicks(clicks, w, h), pw / w, ph / h, pw, ph)
    return [{"x": c.x, "y": c.y, "positive": c.positive} for c in scaled]


def run_full_resolution(engine, photo: Photo, inputs: dict, params: dict) -> dict:
    """``run_clicks`` on the photo's prepared state with the full image (a full-resolution job)."""
    ready = prepared_state(photo, engine.spec.name)  # the engine warm_engine gave this worker
    return engine.run_clicks(ready.state, scale_to_prepared(inputs["clicks"], photo, ready), params,
                             full_image=inputs["image"])
