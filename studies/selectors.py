"""Reads for user studies: what a researcher may see, vote tables, quality, results."""

from __future__ import annotations

import csv
import functools
import io
import json
import statistics

import numpy as np
from django.db import connection
from django.db.models import Count, Q

from studies import inputs, kinds
from studies.analysis import analyse_votes, counts_from_pairs
from studies.analysis.data import csv_cell
from studies.models import JobItem, Method, Output, Participant, Response, Study, Trial

CSV_HEADER = ["participant", "item", "subset", "winner", "loser", "tie"]


def studies_for(user):
    qs = Study.objects.all()
    return qs if user.is_superuser else qs.filter(owner=user)


def participant_for_token(token_hash: str):
    return Participant.objects.select_related("study").filter(token_hash=token_hash).first()


@functools.cache
def _vote_target_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    t, p, s = Trial._meta.db_table, Participant._meta.db_table, Study._meta.db_table
    return (f"SELECT t.{q('id')}, t.{q('participant_id')}, t.{q('study_id')}, s.{q('kind')}, s.{q('allow_tie')}, "
            f"t.{q('candidates')}, s.{q('status')}, s.{q('min_view_ms')} FROM {q(t)} t JOIN {q(p)} p ON p.{q('id')} = t.{q('participant_id')} "
            f"JOIN {q(s)} s ON s.{q('id')} = t.{q('study_id')} WHERE t.{q('public_id')} = %s AND "
            f"p.{q('token_hash')} = %s")


def vote_target(public_id: str, token_hash: str) -> tuple | None:
    """(trial id, participant id, study id, study kind, allow_tie, candidates, study status, min_view_ms)
    of the token holder's
    trial, or None. The vote hot path: one SELECT on two unique indexes (trial.public_id,
    participant.token_hash), written out once instead of compiled by the ORM on every vote (that
    compilation was a third of the endpoint's CPU). Equivalent to ``Trial.objects.filter(public_id=...,
    participant__token_hash=...).values_list(...)``."""
    with connection.cursor() as cursor:
        cursor.execute(_vote_target_sql(connection.vendor), [public_id, token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    candidates = row[5]
    if isinstance(candidates, str | bytes):
        candidates = json.loads(candidates)
    return (*row[:4], bool(row[4]), candidates, *row[6:])


def trial_payload(trial: Trial, participant: Participant) -> dict:
    """``GET /api/participate/next/`` for a trial: its images (opaque per-trial URLs) as the study's
    kind lays them out, progress, and the next trial's images to preload."""
    study = participant.study
    kind = kinds.of(study)
    urls = {t.role: f"/api/participate/img/{t.token}/" for t in trial.image_tokens.all()}
    total = participant.trials.count()
    if kind.adaptive(study):  # trials are made one at a time: count the ones still to come
        every = study.attention_every
        total = study.practice_trials + study.trials_per_participant + (
            study.trials_per_participant // every if every else 0)
    done = participant.responses.count()
    out = {"trial_id": trial.public_id, "kind": study.kind, "input_url": urls["input"],
           **kind.payload(trial, study, urls), "practice": trial.practice, "min_view_ms": study.min_view_ms,
           "progress": {"done": done, "total": max(total, done + 1)}}
    upcoming = (Trial.objects.filter(participant=participant, response__isnull=True, position__gt=trial.position)
                .order_by("position").first())
    out["upcoming"] = [f"/api/participate/img/{t.token}/" for t in upcoming.image_tokens.all()] if upcoming else []
    return out


def public_info(study: Study) -> dict:
    return {"study_public_id": study.public_id, "title": study.title, "kind": study.kind,
            "allow_tie": study.allow_tie, "instructions": study.instructions, "consent_text": study.consent_text,
            "practice_trials": study.practice_trials, "min_width": study.min_width,
            "min_height": study.min_height, "min_view_ms": study.min_view_ms,
            "open": study.status == Study.Status.OPEN, "rank_k": study.rank_k}


# ----------------------------------------------------------------------------- votes and quality


MIN_ANSWERS_TO_FLAG = 10  # speed and straight-lining need this many answers before they flag anyone


def participant_quality(study: Study) -> list[dict]:
    """Per participant: answers, attention-check pass rate, median answer time (as the page measured it)
    and median time between answers (as the server saw them), flags and exclusion (manual or
    automatic).

    Flags: ``speeder`` (median time between answers below the study's ``speeder_ms``),
    ``straight_lining`` (one same answer — always left, always the same ranking — in at least
    ``straightline_share`` of the answers) and ``duplicate`` (the same platform id as an earlier
    participant: ``duplicate_of`` names them). Automatic exclusion: an attention pass rate below the
    threshold, or any flag when the study sets ``exclude_flagged``."""
    kind = kinds.of(study)
    rows = {p.id: {"id": p.id, "label": p.label, "params": p.params, "screen": p.screen,
                   "completed": p.completed_at is not None, "manual": p.excluded, "answered": 0,
                   "attention_total": 0, "attention_passed": 0, "times": [], "stamps": [], "answers": {},
                   "duplicate_of": None}
            for p in study.participants.all()}
    first_by_platform: dict[str, str] = {}
    for row in rows.values():  # in join order
        platform = inputs.platform_id({k: str(v) for k, v in row["params"].items()})
        first = first_by_platform.setdefault(platform, row["label"]) if platform else row["label"]
        row["duplicate_of"] = first if first != row["label"] else None
    for pid, practice, attention, side, choice, order, elapsed, created in Response.objects.filter(
            study=study).order_by("created_at", "id").values_list(
            "participant_id", "trial__practice", "trial__attention", "trial__degraded_side", "choice", "order",
            "elapsed_ms", "created_at"):
        row = rows[pid]
        row["stamps"].append(created)
        if practice:
            continue
        row["answered"] += 1
        row["times"].append(elapsed)
        if attention:
            row["attention_total"] += 1
            row["attention_passed"] += kind.attention_passed(side, choice, order)
        else:
            answer = choice or json.dumps(order)
            row["answers"][answer] = row["answers"].get(answer, 0) + 1
    return [_quality(row, study) for row in rows.values()]


def _quality(row: dict, study: Study) -> dict:
    times, stamps, answers = row.pop("times"), row.pop("stamps"), row.pop("answers")
    gaps = [1000 * (b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    row["median_ms"] = statistics.median(times) if times else None
    row["median_gap_ms"] = statistics.median(gaps) if gaps else None
    row["attention_rate"] = (row["attention_passed"] / row["attention_total"]) if row["attention_total"] else None
    regular = sum(answers.values())
    flags = []
    if study.speeder_ms and len(gaps) >= MIN_ANSWERS_TO_FLAG and row["median_gap_ms"] < study.speeder_ms:
        flags.append("speeder")
    if study.straightline_share and regular >= MIN_ANSWERS_TO_FLAG and \
            max(answers.values()) >= study.straightline_share * regular:
        flags.append("straight_lining")
    if row["duplicate_of"]:
        flags.append("duplicate")
    row["flags"] = flags
    auto = row["attention_rate"] is not None and row["attention_rate"] < study.attention_threshold
    row["auto_excluded"] = auto or bool(study.exclude_flagged and flags)
    row["excluded"] = row["manual"] if row["manual"] is not None else row["auto_excluded"]
    return row


def excluded_labels(study: Study) -> set[str]:
    return {q["label"] for q in participant_quality(study) if q["excluded"]}


def vote_records(study: Study, *, include_excluded: bool = False) -> list[dict]:
    """The long vote table (strings, as the CLI reads its CSV), in storage order. Practice and
    attention trials are not votes; the study's kind turns each answer into pairwise outcomes
    (a ranking of K gives K(K-1)/2: earlier beats later)."""
    kind = kinds.of(study)
    names = dict(Method.objects.filter(study=study).values_list("id", "name"))
    out_method = {oid: names[mid] for oid, mid in Output.objects.filter(item__study=study)
                  .values_list("id", "method_id")}
    skip = set() if include_excluded else excluded_labels(study)
    records = []
    rows = (Response.objects.filter(study=study, trial__practice=False, trial__attention=False)
            .order_by("id").values_list("participant__label", "trial__item__name", "trial__item__subset", "choice",
                                        "order", "trial__left_id", "trial__right_id", "trial__candidates"))
    for label, item, subset, choice, order, left, right, candidates in rows:
        if label in skip:
            continue
        for winner, loser, tie in kind.outcomes(choice, order, left, right, candidates):
            records.append({"participant": label, "item": item, "subset": subset or "all",
                            "winner": out_method[winner], "loser": out_method[loser], "tie": "1" if tie else "0"})
    return records


def votes_csv(records: list[dict]) -> str:
    """The vote table as CSV; a value a spreadsheet would run as a formula is quoted (``csv_cell``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in record.items()} for record in records)
    return buffer.getvalue()


def results(study: Study, *, bootstrap: int = 0, seed: int = 0, details: bool = False,
            include_excluded: bool = False) -> dict:
    """studies.analysis on the same records votes.csv exports, so the API equals the CLI on that file."""
    records = vote_records(study, include_excluded=include_excluded)
    if not records:
        methods = list(study.methods.values_list("name", flat=True))
        return {"conditions": methods, "comparisons": {}, "preference_rate": {}, "win_rate": {},
                "bradley_terry": None, "thurstone": None, "thurstone_ls": None, "regularized": False, "ci": None,
                "subsets": {}, "warnings": ["no votes yet"]}
    return analyse_votes(records, bootstrap=bootstrap, seed=seed, details=details)


def win_matrix(records: list[dict], conditions: list[str]) -> list[list[float]]:
    idx = {c: k for k, c in enumerate(conditions)}
    w = [idx[r["winner"]] for r in records]
    lo = [idx[r["loser"]] for r in records]
    t = [r["tie"] == "1" for r in records]
    return counts_from_pairs(w, lo, len(conditions), ties=t).tolist() if records else \
        np.zeros((len(conditions),) * 2).tolist()


def count_matrix(study: Study, methods: list[int]):
    """Adaptive design: counts so far over method ids, and how often each item was judged."""
    idx = {m: k for k, m in enumerate(methods)}
    method_of = dict(Output.objects.filter(item__study=study).values_list("id", "method_id"))
    C = np.zeros((len(methods), len(methods)))
    items: dict[int, int] = {}
    for choice, left, right, item in Response.objects.filter(
            study=study, trial__practice=False, trial__attention=False).values_list(
            "choice", "trial__left_id", "trial__right_id", "trial__item_id"):
        a, b = idx[method_of[left]], idx[method_of[right]]
        items[item] = items.get(item, 0) + 1
        if choice == "left":
            C[a, b] += 1
        elif choice == "right":
            C[b, a] += 1
        else:
            C[a, b] += 0.5
            C[b, a] += 0.5
    return C, items


def study_summary(study: Study) -> dict:
    counts = study.participants.aggregate(total=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False)))
    return {"participants": counts["total"], "completed": counts["completed"],
            "responses": Response.objects.filter(study=study).count(),
            "items": study.items.count(), "methods": study.methods.count()}


def job_items_status(study: Study) -> dict:
    """Items from engines: jobs by status, photos by state (added / waiting / failed), failures."""
    jobs: dict[str, int] = {}
    photos: dict[int, set[str]] = {}
    failures = []
    methods: list[str] = []
    for photo_id, method, job_id, status, error, item_id in JobItem.objects.filter(study=study).order_by(
            "id").values_list("photo_id", "method", "job_id", "job__status", "job__error", "item_id"):
        jobs[status] = jobs.get(status, 0) + 1
        if method not in methods:
            methods.append(method)
        state = "added" if item_id and status == "succeeded" else \
            "failed" if status in ("failed", "cancelled") else "waiting"
        photos.setdefault(photo_id, set()).add(state)
        if state == "failed" and len(failures) < 20:
            failures.append({"photo": photo_id, "method": method, "job": job_id, "status": status,
                             "error": error[:300]})
    summary = {"added": 0, "waiting": 0, "failed": 0}
    for states in photos.values():
        summary["failed" if "failed" in states else "waiting" if "waiting" in states else "added"] += 1
    return {"jobs": jobs, "photos": summary, "methods": methods, "failures": failures,
            "done": summary["waiting"] == 0}
