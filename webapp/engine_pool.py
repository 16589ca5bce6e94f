"""The engines a worker process keeps warm: each is created once (weights loaded once) and reused
by every job and every interactive click that process runs.

A learned engine is kept per model version (a job runs the version it recorded); a classical engine
has one version and one instance. Learned engines on the CPU get ``threads`` torch threads: the
machine's cores shared by the worker's concurrent tasks (:func:`set_worker_concurrency`)."""

from __future__ import annotations

import os
import threading

from django.conf import settings

import inference.engines as engines

_warm: dict[str, engines.Engine] = {}  # "name", or "name@version" for a learned engine's version
_warm_lock = threading.Lock()
_threads: int | None = None


def set_worker_concurrency(concurrency: int) -> None:
    """Called once a worker knows how many tasks it runs at a time."""
    global _threads
    _threads = max(1, (os.cpu_count() or 1) // max(1, int(concurrency or 1)))


def cpu_threads() -> int | None:
    """Torch CPU threads per task (None before the worker said its concurrency); training jobs use it too."""
    return _threads


def warm_engine(name: str, version: str | None = None) -> engines.Engine:
    """The warm instance of ``name``; for a learned engine, of model ``version`` (None: the newest
    when first asked for). A classical engine has one version, so ``version`` does not matter."""
    version = version if engines.is_learned(name) else None
    key = name if version is None else f"{name}@{version}"
    with _warm_lock:
        if key not in _warm:
            _warm[key] = engines.create(name, weights_dir=str(settings.ENGINE_WEIGHTS_DIR),
                                        model_dir=str(settings.MODEL_DIR), version=version, threads=_threads)
        return _warm[key]


def loaded_engines() -> list[str]:
    """Engines this process holds, ``name`` or ``name@version`` (workers report them in their heartbeat)."""
    return sorted(_warm)
