"""Participation (writes): a participant joins, reports their screen, is dealt trials, answers them
and completes. Participants are not users: they hold a random token whose SHA-256 is stored.

What differs between study kinds (which trials, which answers) is asked of ``studies.kinds``; the
HTTP side of the two hot calls (``next/`` and the vote) is ``studies.hot_path``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from studies import inputs, kinds, live, scheduling, selectors
from studies.models import Output, Participant, Response, Study, Trial, TrialImage
from webapp.refusal import Conflict, NotFound, Refusal, TooMany, Unauthorised

UNAUTHORISED = "Send the X-Participant-Token header you received when joining."
# The smallest window (CSS pixels) in which the participant page's trial layout shows both results,
# the original, the answer buttons and the progress without scrolling, at a size worth judging
# (tests/browser/test_participant_ux.py measures it); a study's own min_width/min_height only raise it.
LAYOUT_MIN_WIDTH, LAYOUT_MIN_HEIGHT = 800, 520
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


@dataclass(frozen=True)
class Joined:
    """A join's outcome: the participant, their token and whether they joined now (False: the same
    person or the same page's retry joined before, and resumes)."""

    participant: Participant
    token: str
    created: bool


def check_join_rate(client: str) -> None:
    """TooMany when ``client`` (an address) or everybody together joined more often than the settings
    ``STUDY_JOIN_RATE_PER_IP`` / ``STUDY_JOIN_RATE_GLOBAL`` allow; counted in the default cache, in
    fixed windows."""
    per_client, everyone = _rate(settings.STUDY_JOIN_RATE_PER_IP), _rate(settings.STUDY_JOIN_RATE_GLOBAL)
    if per_client and _over(f"ip:{hashlib.sha256(client.encode()).hexdigest()[:32]}", *per_client):
        raise TooMany("Too many people joined from your network just now; please try again in a minute.")
    if everyone and _over("all", *everyone):
        raise TooMany("Too many people are joining right now; please try again in a minute.")


_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}


def _rate(spec: str) -> tuple[int, int] | None:
    """"30/min" → (30, 60); "0" or "" → None (no limit). The period is a unit or a number of seconds."""
    count, _, period = str(spec or "0").partition("/")
    try:
        limit = int(count)
        seconds = int(period) if period.strip().isdigit() else _PERIODS[period.strip() or "min"]
    except (KeyError, ValueError):
        raise ImproperlyConfigured(f"A join rate is N/period (30/min, 100/h, 5/60), not {spec!r}.") from None
    return (limit, max(1, seconds)) if limit > 0 else None


def _over(key: str, limit: int, seconds: int) -> bool:
    """Count one join in the current window of ``key``; True when that makes more than ``limit``."""
    window = f"studies:join:{key}:{seconds}:{int(time.time()) // seconds}"
    cache.add(window, 0, timeout=seconds + 1)
    try:
        return cache.incr(window) > limit
    except ValueError:  # evicted between add and incr
        cache.set(window, 1, timeout=seconds + 1)
        return 1 > limit


def _derived_token(participant: Participant) -> str:
    """The participant's token: an HMAC (SECRET_KEY) of their study and salt, so that a rejoin or a
    retried join can be answered with the same token although only its hash is stored."""
    digest = salted_hmac("studies.participant-token", f"{participant.study_id}:{participant.token_salt}",
                         algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _resume(participant: Participant) -> str:
    """The token of a participant who joined before (re-issued if it was not derived: an older
    participant, or SECRET_KEY changed; their earlier token then stops working)."""
    if not participant.token_salt:
        participant.token_salt = secrets.token_urlsafe(16)
    token = _derived_token(participant)
    if hash_token(token) != participant.token_hash:
        participant.token_hash = hash_token(token)
        participant.save(update_fields=["token_salt", "token_hash"])
    return token


def not_open_message(study: Study) -> str:
    return "This study has not opened yet." if study.status == Study.Status.DRAFT else \
        "This study is closed; thank you for your interest."


def _earlier(study: Study, platform: str, client_key: str) -> Participant | None:
    """Who joined before as the same person (platform id) or through the same page (client key)."""
    match = (Q(platform_id=platform) if platform else Q()) | (Q(client_key=client_key) if client_key else Q())
    return study.participants.filter(match).order_by("slot").first() if match else None


def _check_quota(study: Study) -> None:
    """Joins close once ``participants_wanted`` completed, or that many plus ``recruit_margin`` joined."""
    wanted = study.participants_wanted
    full = study.joined >= wanted + study.recruit_margin or (
        study.joined >= wanted and study.participants.filter(completed_at__isnull=False).count() >= wanted)
    if full:
        raise Conflict("This study has all the participants it needs; thank you for your interest.")


def join(study: Study, *, consent, params=None, screen=None, client_key=None) -> Joined:
    """A new participant, or the one who joined before with the same platform id (``PROLIFIC_PID``,
    MTurk ``workerId``) or client key (a retried join). Refuses a closed or full study (409) and
    fields of the wrong shape or size (400). Trials are dealt out at once, unless the study's kind
    chooses them one at a time (adaptive); dealing costs the same for every join."""
    if consent is not True:
        raise Refusal("Consent is required to take part.")
    link, screen = inputs.params(params), inputs.screen(screen)
    client_key = inputs.optional_key(client_key, "client_key")
    platform = inputs.platform_id(link)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.status != Study.Status.OPEN:
            raise Conflict(not_open_message(locked))
        earlier = _earlier(locked, platform, client_key)
        if earlier is not None:
            return Joined(earlier, _resume(earlier), created=False)
        _check_quota(locked)
        slot = locked.joined
        locked.joined = slot + 1
        locked.save(update_fields=["joined"])
        participant = Participant(
            study=locked, slot=slot, label=f"P{slot + 1:03d}", params=link, screen=screen,
            platform_id=platform, client_key=client_key, token_salt=secrets.token_urlsafe(16),
            consent_at=timezone.now(), completion_code=locked.completion_code or secrets.token_hex(4).upper())
        token = _derived_token(participant)
        participant.token_hash = hash_token(token)
        participant.save(force_insert=True)
        methods = list(locked.methods.values_list("id", flat=True))
        items = list(locked.items.values_list("id", flat=True))
        kind = kinds.of(locked)
        # Every other practice trial (the first, the third, ...) has a right answer, for the page's feedback.
        practice = [kind.practice_trial(item, picks, locked, check=n % 2 == 0) for n, (item, picks) in
                    enumerate(scheduling.practice_picks(methods, items, locked.practice_trials, locked.seed, slot))]
        _make_trials(locked, participant, practice, 0, practice=True)
        _make_trials(locked, participant, kind.block(locked, methods, items, slot), len(practice))
    live.study_changed(study.pk)
    return Joined(participant, token, created=True)


def save_screen(participant: Participant, screen) -> None:
    participant.screen = inputs.screen(screen)
    participant.save(update_fields=["screen"])


def _adaptive_spec(participant: Participant) -> dict | None:
    """The next trial an adaptive study makes for the participant, or None when they have had them all."""
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
        return dict(item=items[int(rng.integers(len(items)))], attention=True,
                    left=scheduling.DEGRADED if side else real, right=real if side else scheduling.DEGRADED)
    counts, item_counts = selectors.count_matrix(study, methods)
    return scheduling.adaptive_pair(counts, methods, item_counts, items, rng)


def next_trial(participant: Participant) -> Trial | None:
    """The first unanswered trial (an adaptive study chooses one now); None, and the participant is
    marked complete, when there is none left. Conflict when there is one but the study is no longer
    open (the completion code stays available to those who finished)."""
    study = participant.study
    trial = Trial.objects.filter(participant=participant, response__isnull=True).order_by("position").first()
    spec = _adaptive_spec(participant) if trial is None and kinds.of(study).adaptive(study) else None
    if (trial is not None or spec is not None) and study.status != Study.Status.OPEN:
        raise Conflict(not_open_message(study))
    if spec is not None:
        with transaction.atomic():  # the trial and its image tokens together, or neither
            trial = _make_trials(study, participant, [spec], participant.trials.count())[0]
    if trial is None and participant.completed_at is None:
        participant.completed_at = timezone.now()
        participant.save(update_fields=["completed_at"])
        live.study_changed(participant.study_id)
    return trial


def page_settings(study: Study) -> dict:
    """What the participant page needs beyond ``selectors.public_info``: the window it checks (the
    study's minimum, never below the layout's), full screen, the gap between trials, the end
    questionnaire's questions (None when the study asks none) and, unless the study is open, why."""
    return {"window": {"width": max(study.min_width, LAYOUT_MIN_WIDTH),
                       "height": max(study.min_height, LAYOUT_MIN_HEIGHT)},
            "fullscreen": study.fullscreen, "gap_ms": study.gap_ms,
            "questionnaire": QUESTIONNAIRE if study.questionnaire else None,
            "not_open_message": None if study.status == Study.Status.OPEN else not_open_message(study)}


def completion(participant: Participant) -> dict:
    """The completion page's data; ``questionnaire``: the study asks its end questionnaire and this
    participant has not answered it yet (the page asks it before showing the code)."""
    out = {"done": True, "completion_code": participant.completion_code,
           "questionnaire": participant.study.questionnaire and participant.questionnaire is None}
    if participant.params.get("PROLIFIC_PID") and participant.study.prolific_redirect:
        out["redirect_url"] = PROLIFIC_COMPLETE + participant.completion_code
    return out


# ----------------------------------------------------------------------------- the vote


def _answer_fields(body: dict) -> tuple[str, int]:
    key = inputs.text(body.get("idempotency_key"), "idempotency_key", inputs.MAX_KEY)
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
    answer to an answered trial, an idempotency key reused for another trial, or a study no longer open;
    Refusal for an answer given sooner than the study's ``min_view_ms`` after its images showed
    (``elapsed_ms``, as the page measures it)."""
    target = selectors.vote_target(trial_public_id, token_hash)
    if target is None:
        if not Participant.objects.filter(token_hash=token_hash).exists():
            raise Unauthorised(UNAUTHORISED)
        raise NotFound("No such trial for you.")
    trial_id, participant_id, study_id, kind, allow_tie, candidates, status, min_view_ms = target
    if status != Study.Status.OPEN:
        raise Conflict("This study is closed; your earlier answers are kept. Thank you.")
    key, elapsed = _answer_fields(body)
    if elapsed < min_view_ms:
        raise Refusal(f"Please look at the images for at least {min_view_ms / 1000:g} s before answering.")
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


# ----------------------------------------------------------------------------- the end questionnaire

# Each question: its choices (value → what the page shows). Every question may be left unanswered.
QUESTIONNAIRE = {
    "age_band": {"18-24": "18–24", "25-34": "25–34", "35-44": "35–44", "45-54": "45–54", "55-64": "55–64",
                 "65+": "65 or older", "no_answer": "Prefer not to say"},
    "gender": {"woman": "Woman", "man": "Man", "non_binary": "Non-binary", "self_described": "Another gender",
               "no_answer": "Prefer not to say"},
    "vision_correction": {"none": "No correction needed", "glasses": "Glasses (worn now)",
                          "contact_lenses": "Contact lenses (worn now)",
                          "not_worn": "I need correction but am not wearing it", "no_answer": "Prefer not to say"},
    "colour_vision": {"typical": "Typical colour vision", "deficient": "Colour vision deficiency (colour blind)",
                      "unsure": "Not sure", "no_answer": "Prefer not to say"},
}
MAX_COMMENT = 2000


def read_questionnaire(body: dict) -> dict:
    """The answers in ``body`` checked against ``QUESTIONNAIRE`` (plus ``comment``, free text); unknown
    fields and values are refused, each named, so that nothing half-valid is stored."""
    errors = {}
    answers = {}
    for name, value in body.items():
        if name == "comment":
            if not isinstance(value, str) or len(value) > MAX_COMMENT:
                errors[name] = f"A comment is text of at most {MAX_COMMENT} characters."
            elif value.strip():
                answers[name] = inputs.storable(value.strip(), "The comment")
        elif name in QUESTIONNAIRE:
            if value in ("", None):
                continue
            if value not in QUESTIONNAIRE[name]:
                errors[name] = f"{name} must be one of {', '.join(QUESTIONNAIRE[name])}."
            else:
                answers[name] = value
        else:
            errors[name] = "Not a question of this questionnaire."
    if errors:
        raise Refusal("Some answers are not valid: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                      errors=errors)
    return answers


def answer_questionnaire(participant: Participant, body: dict) -> bool:
    """Store the participant's end questionnaire (every answer optional: ``{}`` skips it); True when
    stored now, False for a repeat of the stored answers. Conflict when the study asks none, the
    trials are not finished, or different answers were stored before."""
    if not participant.study.questionnaire:
        raise Conflict("This study has no questionnaire.")
    answers = read_questionnaire(body)
    if participant.completed_at is None:
        raise Conflict("Finish the trials first; the questionnaire comes at the end.")
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.questionnaire is not None:
            if locked.questionnaire == answers:
                return False
            raise Conflict("Your questionnaire answers were already stored.")
        locked.questionnaire, locked.questionnaire_at = answers, timezone.now()
        locked.save(update_fields=["questionnaire", "questionnaire_at"])
    live.study_changed(participant.study_id)
    return True
