"""Participation (writes): a participant joins, reports their screen, is dealt trials, answers them
and completes. Participants are not users: they hold a random token whose SHA-256 is stored.

What differs between study kinds (which trials, which answers) is asked of ``studies.kinds``; the
HTTP side of the two hot calls (``next/`` and the vote) is ``studies.hot_path``.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from studies import kinds, live, scheduling, selectors
from studies.models import Output, Participant, Response, Study, Trial, TrialImage
from webapp.refusal import Conflict, Forbidden, NotFound, Refusal, Unauthorised

UNAUTHORISED = "Send the X-Participant-Token header you received when joining."
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc="


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class VoteRecorded:
    """A vote was accepted: ``created`` when stored now, False when the same answer was already stored
    (a retry: nothing new)."""

    created: bool


def _make_trials(study: Study, participant: Participant, specs: list[dict], start: int, *, practice=False):
    outputs = {(o.item_id, o.method_id): (o.id, o.image.name, o.degraded.name)
               for o in Output.objects.filter(item__study=study)}
    inputs = {i.id: i.input_image.name for i in study.items.all()}
    kind = kinds.of(study)
    trials, image_rows = [], []
    for n, spec in enumerate(specs):
        trial = Trial(study=study, participant=participant, position=start + n, item_id=spec["item"],
                      practice=practice, attention=spec.get("attention", False))
        rows = kind.fill_trial(trial, spec, lambda item, method: outputs[(item, method)])
        trials.append(trial)
        image_rows.append([("input", inputs[spec["item"]]), *rows])
    Trial.objects.bulk_create(trials)
    TrialImage.objects.bulk_create([TrialImage(trial=t, role=role, path=path)
                                    for t, rows in zip(trials, image_rows, strict=True) for role, path in rows])
    return trials


def join(study: Study, *, consent: bool, params: dict | None = None, screen: dict | None = None):
    """A new participant: returns (participant, raw token). Trials are dealt out at once, unless the
    study's kind chooses them one at a time (adaptive)."""
    if not consent:
        raise Refusal("Consent is required to take part.")
    if study.status != Study.Status.OPEN:
        raise Forbidden("This study is not open.")
    params = {str(k)[:64]: str(v)[:256] for k, v in (params or {}).items()} if isinstance(params, dict) else {}
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        slot = locked.joined
        locked.joined = slot + 1
        locked.save(update_fields=["joined"])
        participant = Participant.objects.create(
            study=locked, token_hash=hash_token(token), slot=slot, label=f"P{slot + 1:03d}", params=params,
            screen=screen if isinstance(screen, dict) else {}, consent_at=timezone.now(),
            completion_code=locked.completion_code or secrets.token_hex(4).upper())
        methods = list(locked.methods.values_list("id", flat=True))
        items = list(locked.items.values_list("id", flat=True))
        kind = kinds.of(locked)
        practice = [kind.practice_trial(item, picks, locked) for item, picks in
                    scheduling.practice_picks(methods, items, locked.practice_trials, locked.seed, slot)]
        _make_trials(locked, participant, practice, 0, practice=True)
        _make_trials(locked, participant, kind.block(locked, methods, items, slot), len(practice))
    live.study_changed(study.pk)
    return participant, token


def save_screen(participant: Participant, screen: dict) -> None:
    participant.screen = {str(k)[:32]: v for k, v in screen.items() if isinstance(v, str | int | float | bool)}
    participant.save(update_fields=["screen"])


def _adaptive_next(participant: Participant) -> Trial | None:
    study = participant.study
    made = participant.trials.filter(practice=False).count()
    every = study.attention_every
    regular = made - (made // (every + 1) if every else 0)
    if regular >= study.trials_per_participant and not (every and (made + 1) % (every + 1) == 0):
        return None
    methods = list(study.methods.values_list("id", flat=True))
    items = list(study.items.values_list("id", flat=True))
    rng = np.random.default_rng([study.seed, participant.slot, made])
    if every and (made + 1) % (every + 1) == 0:
        real = methods[int(rng.integers(len(methods)))]
        side = rng.random() < 0.5
        spec = dict(item=items[int(rng.integers(len(items)))], attention=True,
                    left=scheduling.DEGRADED if side else real, right=real if side else scheduling.DEGRADED)
    else:
        counts, item_counts = selectors.count_matrix(study, methods)
        spec = scheduling.adaptive_pair(counts, methods, item_counts, items, rng)
    start = participant.trials.count()
    with transaction.atomic():  # the trial and its image tokens together, or neither
        return _make_trials(study, participant, [spec], start)[0]


def next_trial(participant: Participant) -> Trial | None:
    """The first unanswered trial (an adaptive study chooses one now); None, and the participant is
    marked complete, when there is none left."""
    trial = Trial.objects.filter(participant=participant, response__isnull=True).order_by("position").first()
    if trial is None and kinds.of(participant.study).adaptive(participant.study):
        trial = _adaptive_next(participant)
    if trial is None and participant.completed_at is None:
        participant.completed_at = timezone.now()
        participant.save(update_fields=["completed_at"])
        live.study_changed(participant.study_id)
    return trial


def completion(participant: Participant) -> dict:
    out = {"done": True, "completion_code": participant.completion_code}
    if participant.params.get("PROLIFIC_PID") and participant.study.prolific_redirect:
        out["redirect_url"] = PROLIFIC_COMPLETE + participant.completion_code
    return out


# ----------------------------------------------------------------------------- the vote


def _answer_fields(body: dict) -> tuple[str, int]:
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 1 <= len(key) <= 80:
        raise Refusal("idempotency_key must be a string of 1 to 80 characters.")
    elapsed = body.get("elapsed_ms", 0)
    if elapsed is None:
        elapsed = 0
    if isinstance(elapsed, bool) or not isinstance(elapsed, int | float) or elapsed != elapsed:
        raise Refusal("elapsed_ms must be a number of milliseconds.")
    return key, int(max(0, min(elapsed, 2**31 - 1)))


_INSERT_FIELDS = ("trial", "participant", "study", "idempotency_key", "choice", "order", "elapsed_ms", "created_at")


@functools.cache
def _insert_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(Response._meta.get_field(f).column) for f in _INSERT_FIELDS)
    return f"INSERT INTO {q(Response._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(_INSERT_FIELDS))})"


def _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed) -> None:
    """``Response(...).save(force_insert=True)`` written out: one INSERT, values prepared by the model's
    own fields (JSON, aware datetime), without the ORM's per-call query compilation."""
    meta = Response._meta
    values = (trial_id, participant_id, study_id, key, choice, order, elapsed, timezone.now())
    params = [meta.get_field(f).get_db_prep_save(v, connection) for f, v in zip(_INSERT_FIELDS, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), params)


def record_vote(trial_public_id: str, token_hash: str, body: dict) -> VoteRecorded:
    """One SELECT (the trial, joined with the token's participant and the study's answer rules) and one
    INSERT, whose unique constraints decide. Refuses: Unauthorised for an unknown token, NotFound for
    a trial that is not this participant's, Refusal (400) for a bad answer, Conflict for a different
    answer to an answered trial or an idempotency key reused for another trial."""
    target = selectors.vote_target(trial_public_id, token_hash)
    if target is None:
        if not Participant.objects.filter(token_hash=token_hash).exists():
            raise Unauthorised(UNAUTHORISED)
        raise NotFound("No such trial for you.")
    key, elapsed = _answer_fields(body)
    trial_id, participant_id, study_id, kind, allow_tie, candidates = target
    choice, order = kinds.of(kind).read_answer(body, allow_tie, len(candidates or ()))
    try:
        if connection.in_atomic_block:  # a test's or a caller's transaction: keep it usable on a clash
            with transaction.atomic():
                _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed)
        else:  # autocommit: the INSERT is its own transaction
            _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed)
    except IntegrityError:
        existing = Response.objects.filter(trial_id=trial_id).values_list("choice", "order").first()
        if existing is None:  # the key was used for another trial
            raise Conflict("This idempotency_key was already used for another trial.") from None
        if existing == (choice, order):
            return VoteRecorded(created=False)
        raise Conflict("This trial was already answered differently.") from None
    live.vote_arrived(study_id)
    return VoteRecorded(created=True)
