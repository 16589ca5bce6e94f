"""The participant hot path, in one place: ``GET /api/participate/next/`` and the vote
(``POST /api/participate/trials/<trial_id>/response/``), from the request's token and body bytes
to the database and back to a status and a JSON body.

``ROUTES`` is the route table (method, path pattern, URL name, answer), read by both adapters:

* ``studies.participate.hot_view``, the Django view of each route (``studies/urls.py``);
* ``studies.fastpath.ParticipantFastPath``, the ASGI wrapper production requests go through
  (``webapp/asgi.py``): for exactly these routes it runs the view above on one worker thread with
  Django's own request object, middleware hooks and error handling (see there) instead of Django's
  ASGI handler, which hops threads for every middleware hook; it marks the request ``POOLED`` so
  that the view runs the answer on a connection borrowed from the process-wide psycopg pool
  (``with_connection``).
  Callers that go through Django directly (the in-process test client, simulated participants) run
  the answer on the caller's thread, connection and transaction, which is what lets a test see its
  own uncommitted rows.

Answers raise refusals (``webapp.refusal``), answered as responses by Django's middleware on both
paths. A vote is one SELECT and one INSERT (``studies.participation.record_vote``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connection

from studies import inputs, participation, selectors
from studies.participation import UNAUTHORISED
from webapp.refusal import Refusal, Unauthorised

log = logging.getLogger("django.request")

TOKEN_HEADER = "X-Participant-Token"
MAX_TOKEN_CHARS = 200
POOLED = "studies.pooled_connection"  # request.META key the fast path sets (no header can make one)


def token_hash(token: str) -> str:
    """The stored hash of the token a participant sent; Unauthorised when none (or absurdly long)."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise Unauthorised(UNAUTHORISED)
    return participation.hash_token(token)


def participant_for(token: str):
    participant = selectors.participant_for_token(token_hash(token))
    if participant is None:
        raise Unauthorised(UNAUTHORISED)
    return participant


def answer_next(token: str, body: bytes) -> tuple[int, dict]:
    """The participant's next trial, or their completion (code, redirect) when none is left."""
    participant = participant_for(token)
    trial = participation.next_trial(participant)
    if trial is None:
        return 200, participation.completion(participant)
    return 200, selectors.trial_payload(trial, participant)


def answer_vote(token: str, body: bytes, trial_id: str) -> tuple[int, dict]:
    """201 stored now; 200 the same answer was already stored (a retry, nothing new)."""
    hashed = token_hash(token)
    recorded = participation.record_vote(trial_id, hashed, inputs.parse_body(body))
    return (201 if recorded.created else 200), {"stored": recorded.created}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # the path without its leading "/", a regular expression (as django.urls.re_path takes)
    name: str  # the URL name
    answer: Callable[..., tuple[int, dict]]  # (token, body bytes, **path groups) → (status, JSON body)


ROUTES = (
    Route("GET", r"api/participate/next/", "participate-next", answer_next),
    Route("POST", r"api/participate/trials/(?P<trial_id>[A-Za-z0-9_-]{1,32})/response/", "participate-respond",
          answer_vote),
)


def with_connection(answer: Callable[..., tuple[int, dict]], *args, **kwargs) -> tuple[int, dict]:
    """Run ``answer`` on a pool-borrowed connection and give the connection back afterwards.

    The pool hands out idle connections without testing them (CONN_HEALTH_CHECKS is off), so after
    a database restart the first use fails: the broken connection is then dropped, the pool's
    idle connections are checked (dead ones replaced), and ``answer`` runs once more; if that fails
    too the answer is a 503 (retry later). Both answers are safe to repeat: a read, and a vote INSERT
    whose constraints turn a repeat into a 200."""
    try:
        try:
            return answer(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()
            pool = getattr(connection, "pool", None)
            if pool is not None:
                pool.check()
            try:
                return answer(*args, **kwargs)
            except (OperationalError, InterfaceError):
                log.exception("database unavailable")
                raise Refusal("The database is unavailable; please retry.", status=503) from None
    finally:
        connection.close()
