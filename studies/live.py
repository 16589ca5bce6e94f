"""Live study pages. A change (a vote, a participant joining or completing, an engine job of the
study's items finishing) only marks the study dirty; a timer publishes at most one event per study
every DEBOUNCE seconds on ``/ws/studies/<id>/`` (trailing edge, so the last change is never left
unannounced). Browsers then re-fetch what they show; no analysis ever runs on the request path."""

from __future__ import annotations

import threading

from webapp import events

DEBOUNCE = 0.4
_lock = threading.Lock()
_pending: dict[int, threading.Timer] = {}


def study_group(study_id: int) -> str:
    return f"studies.study.{study_id}"


def _flush(study_id: int) -> None:
    with _lock:
        _pending.pop(study_id, None)
    events.publish(study_group(study_id), {"type": "study.event", "event": "changed", "study": study_id})


def study_changed(study_id: int) -> None:
    with _lock:
        if study_id in _pending:
            return
        timer = threading.Timer(DEBOUNCE, _flush, args=(study_id,))
        timer.daemon = True
        _pending[study_id] = timer
    timer.start()


vote_arrived = study_changed
