"""The engines a worker process keeps warm: each is created once (weights loaded once) and reused
by every job and every interactive click that process runs."""

from __future__ import annotations

import threading

from django.conf import settings

import inference.engines as engines

_warm: dict[str, engines.Engine] = {}
_warm_lock = threading.Lock()


def warm_engine(name: str) -> engines.Engine:
    with _warm_lock:
        if name not in _warm:
            _warm[name] = engines.create(name, weights_dir=str(settings.ENGINE_WEIGHTS_DIR))
        return _warm[name]


def loaded_engines() -> list[str]:
    """Names of the engines this process holds (workers report them in their heartbeat)."""
    return sorted(_warm)
