"""Writes for the annotation workspace: projects, assignment, autosave, submit with QA, review,
issues, reopen, freeze, sync, group tone matching, XMP import, mask refinement, exports.

The workflow (``docs/annotation.md``)::

    queued ──assign (researcher)──▶ in_progress ──submit (expert, QA)──▶ in_review
    in_review ──review: accept (reviewer)──▶ accepted ──freeze (researcher)──▶ frozen
    in_review ──review: changes_requested + issues──▶ changes_requested (round + 1, same expert)
    changes_requested ──submit──▶ in_review (the same reviewer)
    in_review | changes_requested | accepted ──reopen (researcher)──▶ in_progress

A state moves with a conditional UPDATE (``_move``): two requests never both move it, and a
request that finds another state gets a 409 that names it.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from inference import render as renderer
from inference import xmp
from inference.interface import EngineInputError
from inference.tone_match import match_group_tone
from webapp import events
from webapp.accounts.models import Role, User
from webapp.accounts.permissions import user_has_role
from webapp.annotation import composites, export, masks, qa, rendering, reports, selectors
from webapp.annotation.models import (
    AnnotationProject,
    Assignment,
    DatasetExport,
    Edit,
    ProjectGroup,
    ReviewIssue,
    default_qa,
)
from webapp.celery import app as celery_app
from webapp.photos.inputs import validate_box, validate_clicks
from webapp.photos.models import Mask, Photo, PhotoGroup
from webapp.photos.services import save_mask_array
from webapp.refusal import Conflict, Forbidden, NotFound, Refusal

log = logging.getLogger("portrait_lab.annotation")
State = Assignment.State
RUN_EXPORT = "annotation.export_dataset"  # webapp/annotation/tasks.py, sent by name
EXPORT_SIZES = ("360p", "full")
QA_SEPARATOR = " • "  # the editor splits the message on it
MAX_ISSUE_BRUSH = 500  # dabs of a brushed issue region


def project_group_name(project_id: int) -> str:
    """Channel-layer group of a project's live page (``/ws/annotation/projects/<id>/``)."""
    return f"annotation.project.{project_id}"


def announce(project_id: int, message: dict) -> None:
    """Tell the project's open pages, once the write commits."""
    transaction.on_commit(lambda: events.publish(project_group_name(project_id),
                                                 {"type": "annotation.event", **message}))


def _state_label(state: str) -> str:
    return State(state).label.lower()


def _move(assignment: Assignment, allowed: tuple[str, ...], to: str, **fields) -> Assignment:
    """Conditional transition: only from ``allowed``; a 409 names the state actually found."""
    updated = Assignment.objects.filter(pk=assignment.pk, state__in=allowed).update(
        state=to, updated_at=timezone.now(), **fields)
    if not updated:
        assignment.refresh_from_db()
        raise Conflict(f"This assignment is {_state_label(assignment.state)}; that step needs it to be "
                       f"{' or '.join(_state_label(s) for s in allowed)}.")
    assignment.refresh_from_db()
    announce(assignment.project_id, {"event": "assignment", "id": assignment.pk, "state": assignment.state,
                                     "round": assignment.round})
    return assignment


# --- projects ------------------------------------------------------------------------------------
def _clean_slots(slots) -> list[str]:
    slots = list(slots or ["a", "b", "c"])
    if not 1 <= len(slots) <= 8 or not all(isinstance(s, str) and s.isalnum() and len(s) <= 8 for s in slots) \
            or len(set(slots)) != len(slots):
        raise Refusal("slots must be 1–8 distinct short names of letters or digits, e.g. [\"a\", \"b\", \"c\"]")
    return slots


# QA settings: (lowest, highest, what a person reads in a message). The page shows the fractions as %.
QA_LIMITS = {
    "max_glc": (0.01, 10000.0, "the M_GLC threshold must be a number above 0 (PPR10K's groups are mostly under 30)"),
    "max_clipped_fraction": (0.0, 1.0, "the clipping limit in the human region must be between 0 % and 100 %"),
    "extreme_fraction": (0.05, 1.0, "the extreme-slider limit must be between 5 % and 100 % of a slider's range"),
}


def _clean_qa(qa_in, base: dict | None = None) -> dict:
    out = {**default_qa(), **(base or {})}
    if qa_in is not None and not isinstance(qa_in, dict):
        raise Refusal("qa must be an object of QA settings", errors={"qa": ["must be an object"]})
    for key, value in (qa_in or {}).items():
        if key not in out:
            raise Refusal(f"unknown QA setting {key!r}; known: {', '.join(out)}", errors={key: ["unknown setting"]})
        low, high, message = QA_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise Refusal(message[0].upper() + message[1:] + ".", errors={key: [message]})
        out[key] = float(value)
    return out


def _check_rounds_and_duplicates(max_rounds, duplicates=0) -> None:
    for key, value, low, high, label in (("max_rounds", max_rounds, 1, 20, "Max review rounds"),
                                        ("duplicates", duplicates, 0, 5, "Hidden duplicates per assignment")):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Refusal(f"{label} must be a whole number from {low} to {high}.",
                          errors={key: [f"a whole number from {low} to {high}"]})


@transaction.atomic
def update_settings(*, project: AnnotationProject, by, qa_settings=None, max_rounds=None) -> AnnotationProject:
    """The owner tightens or loosens QA and the round limit; the next submission uses them.
    Slots and hidden duplicates are fixed at creation (assignments exist for them)."""
    _owned(project, by)
    project = AnnotationProject.objects.select_for_update().get(pk=project.pk)
    if max_rounds is not None:
        _check_rounds_and_duplicates(max_rounds)
        project.max_rounds = max_rounds
    if qa_settings is not None:
        project.qa = _clean_qa(qa_settings, project.qa)
    project.save(update_fields=["max_rounds", "qa"])
    announce(project.pk, {"event": "settings"})
    return project


@transaction.atomic
def create_project(*, owner, title: str, group_ids: list[int], kind: str = "retouch", slots=None,
                   max_rounds: int = 3, qa_settings: dict | None = None, duplicates: int = 0,
                   split_seed: int = 0, val_fraction: float = 0.2) -> AnnotationProject:
    title = (title or "").strip()
    if not title:
        raise Refusal("A project needs a title.")
    if kind not in AnnotationProject.Kind.values:
        raise Refusal(f"kind must be one of {', '.join(AnnotationProject.Kind.values)}")
    harmonization = kind == AnnotationProject.Kind.HARMONIZATION
    # A harmonization project may start empty: its groups come from the composite builder.
    if not isinstance(group_ids, list) or (not group_ids and not harmonization) \
            or len(set(group_ids)) != len(group_ids):
        raise Refusal("groups must be a non-empty list of distinct photo group ids", errors={"groups": ["choose at least one"]})
    groups = {g.pk: g for g in PhotoGroup.objects.filter(pk__in=group_ids)}
    missing = [g for g in group_ids if g not in groups]
    if missing:
        raise Refusal(f"no photo group with id {', '.join(map(str, missing))}")
    for gid in group_ids:
        photos = list(Photo.objects.filter(group_id=gid))
        if not photos:
            raise Refusal(f"photo group {groups[gid].name!r} has no photos")
        if kind == AnnotationProject.Kind.HARMONIZATION:
            lacking = [p for p in photos if not p.masks.filter(kind=Mask.Kind.FOREGROUND).exists()]
            if lacking:
                raise Refusal(f"harmonization needs a foreground mask on every composite; "
                              f"{lacking[0]} in group {groups[gid].name!r} has none")
    _check_rounds_and_duplicates(max_rounds, duplicates)
    if not 0.0 <= float(val_fraction) < 1.0:
        raise Refusal("val_fraction must be in [0, 1)", errors={"val_fraction": ["from 0 up to (not including) 1"]})
    project = AnnotationProject.objects.create(
        owner=owner, title=title[:200], kind=kind, slots=_clean_slots(slots), max_rounds=int(max_rounds),
        qa=_clean_qa(qa_settings), duplicates=int(duplicates), split_seed=int(split_seed),
        val_fraction=float(val_fraction))
    rng = np.random.default_rng([int(split_seed), 0xD0B])
    for index, gid in enumerate(group_ids):
        pg = ProjectGroup.objects.create(project=project, group=groups[gid], index=index)
        others = list(Photo.objects.filter(group_id__in=group_ids).exclude(group_id=gid)
                      .order_by("id").values_list("id", flat=True))
        for slot in project.slots:
            hidden = sorted(int(x) for x in rng.choice(others, size=min(project.duplicates, len(others)),
                                                       replace=False)) if others and project.duplicates else []
            Assignment.objects.create(project=project, project_group=pg, slot=slot, duplicates=hidden)
    return project


def _owned(project: AnnotationProject, user) -> None:
    if project.owner_id != user.pk and not user.is_superuser:
        raise NotFound("No such project, or it is not yours.")


def _user_with_role(user_id, role: str, what: str) -> User:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise Refusal(f"{what} must be a user id")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.role != role:
        raise Refusal(f"user {user_id} is not an active {role}")
    return user


def assign(*, assignment: Assignment, by, expert_id, reviewer_id=None) -> Assignment:
    """Give a queued assignment to an expert, or (only researchers) hand it to another one."""
    _owned(assignment.project, by)
    expert = _user_with_role(expert_id, Role.EXPERT, "expert")
    reviewer = _user_with_role(reviewer_id, Role.REVIEWER, "reviewer") if reviewer_id is not None else None
    others = Assignment.objects.filter(project_group=assignment.project_group, expert=expert).exclude(pk=assignment.pk)
    if others.exists():
        raise Conflict(f"{expert.username} already holds slot {others.first().slot} of this group; "
                       "one expert per slot keeps the slots independent.")
    fields = {"expert": expert, **({"reviewer": reviewer} if reviewer else {})}
    if assignment.state == State.QUEUED:
        return _move(assignment, (State.QUEUED,), State.IN_PROGRESS, **fields)
    return _move(assignment, (State.IN_PROGRESS, State.CHANGES_REQUESTED), State.IN_PROGRESS, **fields)


def reopen(*, assignment: Assignment, by) -> Assignment:
    _owned(assignment.project, by)
    return _move(assignment, (State.IN_REVIEW, State.CHANGES_REQUESTED, State.ACCEPTED), State.IN_PROGRESS,
                 round=assignment.round + 1, first_pass=None)


@transaction.atomic
def freeze(*, project: AnnotationProject, by) -> AnnotationProject:
    """Freeze every accepted assignment into the next dataset version; all must be accepted."""
    _owned(project, by)
    project = AnnotationProject.objects.select_for_update().get(pk=project.pk)
    waiting = project.assignments.exclude(state__in=[State.ACCEPTED, State.FROZEN])
    if waiting.exists():
        raise Conflict(f"{waiting.count()} assignment(s) are not accepted yet "
                       f"(first: group {waiting.first().project_group.index}, slot {waiting.first().slot}, "
                       f"{_state_label(waiting.first().state)}).")
    if not project.assignments.filter(state=State.ACCEPTED).exists():
        raise Conflict(f"Nothing new to freeze: dataset version {project.dataset_version} already holds every assignment.")
    project.assignments.filter(state=State.ACCEPTED).update(state=State.FROZEN, updated_at=timezone.now())
    project.dataset_version += 1
    project.frozen_at = timezone.now()
    project.save(update_fields=["dataset_version", "frozen_at"])
    announce(project.pk, {"event": "frozen", "dataset_version": project.dataset_version})
    return project


# --- the expert's edits ------------------------------------------------------------------------
def _require_expert(assignment: Assignment, user) -> None:
    if user_has_role(user, "reviewer") and not user.is_superuser:
        raise Forbidden("Reviewers never change an expert's parameters; attach a suggested change to an issue.")
    if assignment.expert_id != user.pk:
        raise Forbidden("Only the expert this assignment is given to edits it.")


def _require_editable(assignment: Assignment) -> None:
    if not assignment.editable:
        raise Conflict(f"This assignment is {_state_label(assignment.state)}: edits are closed until it comes "
                       "back with changes requested (or a researcher reopens it).")


def clean_params(params) -> dict:
    try:
        return renderer.normalize_params(params if isinstance(params, dict) else None)
    except EngineInputError as exc:
        raise Refusal(str(exc)) from None


def _append(assignment: Assignment, photo: Photo, params: dict, user, source: str,
            unsupported: dict | None = None) -> Edit:
    """A new version unless ``params`` equal the current one (autosave repeats are free)."""
    current, edit = selectors.current_params(assignment, photo)
    if edit is not None and current == params and not unsupported:
        return edit
    top = Edit.objects.filter(assignment=assignment, photo=photo).aggregate(v=Max("version"))["v"] or 0
    return Edit.objects.create(assignment=assignment, photo=photo, version=top + 1, author=user, params=params,
                               renderer_version=rendering.RENDERER_VERSION, source=source,
                               unsupported=unsupported or {}, round=assignment.round)


def save_params(*, assignment: Assignment, photo: Photo, params, user, source: str = "editor") -> Edit:
    _require_expert(assignment, user)
    clean = clean_params(params)
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        _require_editable(locked)
        return _append(locked, photo, clean, user, source)


def sync_params(*, assignment: Assignment, user, from_photo: Photo, to_photo_ids, keys) -> list[Edit]:
    """Copy ``keys`` of one photo's current settings onto other photos of the assignment."""
    if not isinstance(keys, list) or not keys or not set(keys) <= set(renderer.PARAMS):
        raise Refusal(f"keys must be a non-empty list of slider names ({', '.join(renderer.PARAMS)})")
    if not isinstance(to_photo_ids, list) or not to_photo_ids:
        raise Refusal("photos must be a non-empty list of photo ids of this assignment")
    _require_expert(assignment, user)
    source_params, _ = selectors.current_params(assignment, from_photo)
    targets = [selectors.photo_of(assignment, pid) for pid in to_photo_ids]
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        _require_editable(locked)
        out = []
        for photo in targets:
            params, _ = selectors.current_params(locked, photo)
            params.update({k: source_params[k] for k in keys})
            out.append(_append(locked, photo, params, user, "sync"))
    return out


def match_tone(*, assignment: Assignment, user, reference_id=None, apply: bool = False) -> dict:
    """Solve exposure/temperature/tint per photo so the group's tone converges (``inference.tone_match``)."""
    _require_expert(assignment, user)
    _require_editable(assignment)
    photos = [p for p in selectors.assignment_photos(assignment) if p.pk not in set(assignment.duplicates)]
    ids = [p.pk for p in photos]
    if reference_id is not None and reference_id not in ids:
        raise Refusal("reference must be a photo of this group")
    images = [rendering.source(p) for p in photos]
    params = [selectors.current_params(assignment, p)[0] for p in photos]
    human = [rendering.mask_array(rendering.latest_mask(p, Mask.Kind.HUMAN), *im.shape[:2])
             for p, im in zip(photos, images, strict=True)]
    result = match_group_tone(images, params, human, reference=ids.index(reference_id) if reference_id else None)
    if apply:
        with transaction.atomic():
            locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
            _require_editable(locked)
            for photo, new in zip(photos, result.params, strict=True):
                _append(locked, photo, clean_params(new), user, "match")
    return {"photos": [{"photo": pid, "params": p} for pid, p in zip(ids, result.params, strict=True)],
            "glc_before": result.glc_before, "glc_after": result.glc_after, "applied": apply}


def refine_mask(*, assignment: Assignment, user, photo: Photo, clicks) -> Mask:
    _require_expert(assignment, user)
    _require_editable(assignment)
    clean = validate_clicks(clicks, photo)
    mask = masks.refine(photo, clean)
    if float(mask.max(initial=0.0)) <= 0.0:
        raise Refusal("Those clicks leave no person in the mask; click on the person to add them back.")
    return save_mask_array(photo=photo, mask=mask, kind=Mask.Kind.HUMAN, created_by=user)


# --- XMP -------------------------------------------------------------------------------------------
def _settings_from_xmp(text) -> tuple[dict, dict, list[str]]:
    try:
        found = xmp.read_xmp(text)
    except xmp.XmpError as exc:
        raise Refusal(f"That sidecar could not be read: {exc}") from None
    params, unsupported = {}, dict(found.unsupported)
    for key, value in found.params.items():
        if key in renderer.PARAMS:
            params[key] = value
        else:  # a Camera Raw slider this renderer version does not have
            unsupported[next(n for n, (k, _) in xmp.SLIDERS.items() if k == key)] = str(value)
    return clean_params(params), unsupported, found.notes


def import_xmp(*, assignment: Assignment, user, photo: Photo, text) -> dict:
    """Apply a sidecar to one photo; returns the edit and every key that had no counterpart."""
    params, unsupported, notes = _settings_from_xmp(text)
    _require_expert(assignment, user)
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        _require_editable(locked)
        edit = _append(locked, photo, params, user, "xmp", unsupported)
    return {"edit": edit, "unsupported": unsupported, "notes": notes}


def import_group_xmp(*, assignment: Assignment, user, files: dict[str, str]) -> dict:
    """Sidecars matched to photos by name, as Lightroom names them (``IMG_1.xmp`` for ``IMG_1.jpg``)."""
    if not files:
        raise Refusal("Send one or more .xmp files.")
    by_stem = {}
    for photo in selectors.assignment_photos(assignment):
        by_stem.setdefault((photo.original_name or "").rsplit(".", 1)[0].lower(), photo)
    applied, unmatched = [], []
    for name, text in files.items():
        photo = by_stem.get(name.rsplit(".", 1)[0].lower())
        if photo is None:
            unmatched.append(name)
            continue
        result = import_xmp(assignment=assignment, user=user, photo=photo, text=text)
        applied.append({"file": name, "photo": photo.pk, "unsupported": result["unsupported"],
                        "notes": result["notes"]})
    return {"applied": applied, "unmatched": unmatched}


# --- submit and review -------------------------------------------------------------------------
def submit(*, assignment: Assignment, user) -> Assignment:
    _require_expert(assignment, user)
    _require_editable(assignment)
    failures = qa.check_submission(assignment)
    if failures:
        raise Refusal(f"Automatic QA did not pass ({len(failures)} problem{'s' if len(failures) > 1 else ''}): "
                      + QA_SEPARATOR.join(failures), errors={"qa": failures})
    moved = _move(assignment, Assignment.EDITABLE, State.IN_REVIEW, submitted_at=timezone.now())
    reports.warm_cache(moved)
    return moved


def _clean_issue(assignment: Assignment, raw) -> dict:
    if not isinstance(raw, dict):
        raise Refusal("each issue must be an object with at least a comment")
    comment = str(raw.get("comment", "")).strip()
    if not comment:
        raise Refusal("each issue needs a comment saying what to change")
    photo = None
    if raw.get("photo") is not None:
        photo = selectors.photo_of(assignment, raw["photo"])
    region = raw.get("region")
    if region is not None:
        if photo is None:
            raise Refusal("an issue pinned to a region needs its photo")
        if isinstance(region, dict) and set(region) == {"box"}:
            region = {"box": validate_box(region["box"], photo)}
        elif isinstance(region, dict) and set(region) == {"brush"}:
            region = {"brush": composites.clean_brush(region["brush"], photo.width, photo.height,
                                                      limit=MAX_ISSUE_BRUSH)}
        else:
            raise Refusal('region must be {"box": [x0, y0, x1, y1]} or {"brush": [[x, y, r], …]}')
    slider = raw.get("slider") or ""
    if slider and slider not in renderer.PARAMS:
        raise Refusal(f"slider must be one of {', '.join(renderer.PARAMS)}")
    suggested = raw.get("suggested_params")
    if suggested is not None:
        if photo is None:
            raise Refusal("a suggested change needs its photo")
        if not isinstance(suggested, dict) or not suggested:
            raise Refusal("suggested_params must be an object of slider values")
        clean_params(suggested)  # validates names and ranges
    return {"photo": photo, "region": region, "slider": slider, "comment": comment[:4000],
            "suggested_params": suggested}


def review(*, assignment: Assignment, user, decision: str, issues=None, reopen_issues=None) -> Assignment:
    """Accept, or request changes with at least one (new or reopened) issue. Resolved issues that
    are not reopened become verified either way."""
    if not user_has_role(user, "reviewer"):
        raise Forbidden("Only reviewers review.")
    if assignment.reviewer_id not in (None, user.pk):
        raise Forbidden("Another reviewer reviews this assignment; resubmissions go back to the same reviewer.")
    if decision not in ("accept", "changes_requested"):
        raise Refusal('decision must be "accept" or "changes_requested"')
    issues = issues or []
    if not isinstance(issues, list):
        raise Refusal("issues must be a list")
    if assignment.state != State.IN_REVIEW:
        raise Conflict(f"This assignment is {_state_label(assignment.state)}, not in review.")
    if decision == "accept" and issues:
        raise Refusal("An accepted assignment takes no new issues; request changes instead.")
    cleaned = [_clean_issue(assignment, raw) for raw in issues]
    reopened = list(assignment.issues.filter(pk__in=reopen_issues or [], state=ReviewIssue.State.RESOLVED))
    if decision == "changes_requested":
        if not cleaned and not reopened:
            raise Refusal("Requesting changes needs at least one issue saying what to change.")
        if assignment.round >= assignment.project.max_rounds:
            raise Conflict(f"This is round {assignment.round} of at most {assignment.project.max_rounds}; "
                           "accept it, or ask the researcher to reopen or reassign it.")
    with transaction.atomic():
        if decision == "accept":
            moved = _move(assignment, (State.IN_REVIEW,), State.ACCEPTED, reviewer=user,
                          first_pass=assignment.round == 1)
            moved.issues.filter(state=ReviewIssue.State.RESOLVED).update(state=ReviewIssue.State.VERIFIED)
            return moved
        moved = _move(assignment, (State.IN_REVIEW,), State.CHANGES_REQUESTED, reviewer=user,
                      round=assignment.round + 1, first_pass=False)
        ReviewIssue.objects.filter(pk__in=[i.pk for i in reopened]).update(state=ReviewIssue.State.REOPENED)
        moved.issues.filter(state=ReviewIssue.State.RESOLVED).update(state=ReviewIssue.State.VERIFIED)
        for item in cleaned:
            ReviewIssue.objects.create(assignment=moved, author=user, round=assignment.round, **item)
        return moved


def resolve_issue(*, issue: ReviewIssue, user, apply_suggestion: bool = False, reply: str = "") -> ReviewIssue:
    assignment = issue.assignment
    _require_expert(assignment, user)
    _require_editable(assignment)
    if issue.state not in ReviewIssue.UNRESOLVED:
        raise Conflict(f"Issue #{issue.pk} is already {issue.state}.")
    with transaction.atomic():
        if apply_suggestion:
            if not issue.suggested_params:
                raise Refusal(f"Issue #{issue.pk} carries no suggested change to apply.")
            params, _ = selectors.current_params(assignment, issue.photo)
            params.update(issue.suggested_params)
            _append(assignment, issue.photo, clean_params(params), user, "suggestion")
        updated = ReviewIssue.objects.filter(pk=issue.pk, state__in=ReviewIssue.UNRESOLVED).update(
            state=ReviewIssue.State.RESOLVED, reply=str(reply or "")[:4000], resolved_at=timezone.now())
        if not updated:
            raise Conflict(f"Issue #{issue.pk} was resolved meanwhile.")
    issue.refresh_from_db()
    return issue


# --- export --------------------------------------------------------------------------------------
def clean_sizes(sizes) -> list[str]:
    if isinstance(sizes, str):
        sizes = [s.strip() for s in sizes.split(",") if s.strip()]
    sizes = list(sizes or ["360p"])
    if not sizes or not set(sizes) <= set(EXPORT_SIZES):
        raise Refusal(f"sizes must be a list of {', '.join(EXPORT_SIZES)}")
    return [s for s in EXPORT_SIZES if s in sizes]


def start_export(*, project: AnnotationProject, by, sizes=None) -> DatasetExport:
    _owned(project, by)
    clean = clean_sizes(sizes)
    export.frozen_or_refuse(project)
    with transaction.atomic():
        record = DatasetExport.objects.create(project=project, requested_by=by, sizes=clean,
                                              dataset_version=project.dataset_version)
        transaction.on_commit(lambda: celery_app.send_task(RUN_EXPORT, args=[record.pk], queue="cpu"))
    return record


def _export_event(record: DatasetExport) -> None:
    events.publish(project_group_name(record.project_id), {
        "type": "annotation.event", "event": "export", "id": record.pk, "status": record.status,
        "progress": record.progress, "url": record.download_url,
        "error": record.error})


def _archive_into_storage(folder: Path, name: str, progress) -> str:
    """Zip the exported folder into the media storage. On a local disk the archive is written in
    place (a full-size export is tens of GB: a second copy would double the disk time)."""
    if not isinstance(default_storage, FileSystemStorage):  # the lazy proxy reports the real class
        # any other storage (object stores, in-memory): zip to a temporary file, then save that
        with tempfile.TemporaryFile(dir=settings.DATA_DIR) as fh:
            export.write_archive(folder, fh, progress)
            fh.seek(0)
            return default_storage.save(name, File(fh, name=Path(name).name))
    target = Path(default_storage.path(default_storage.get_available_name(name)))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "xb") as fh:
            export.write_archive(folder, fh, progress)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target.relative_to(Path(default_storage.location)).as_posix()


def run_export(export_id: int) -> str:
    """The export job (Celery task ``annotation.export_dataset``): write the folder, zip it into
    the media storage, report progress to the project's page."""
    record = DatasetExport.objects.select_related("project").get(pk=export_id)
    if record.status != DatasetExport.Status.QUEUED:
        return record.status
    DatasetExport.objects.filter(pk=record.pk).update(status=DatasetExport.Status.RUNNING)
    record.status = DatasetExport.Status.RUNNING
    last = [0.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            record.progress = round(0.99 * fraction, 3)  # 1.0 once the archive is stored
            DatasetExport.objects.filter(pk=record.pk).update(progress=record.progress)
            _export_event(record)

    name = f"project-{record.project_id}-v{record.dataset_version}-{record.pk}"
    try:
        with tempfile.TemporaryDirectory(prefix="export-", dir=settings.DATA_DIR) as tmp:
            folder = Path(tmp) / name
            manifest = export.export_dataset(record.project, folder, record.sizes,
                                             lambda f: progress(0.9 * f))
            record.path = _archive_into_storage(folder, f"exports/{name}-{uuid.uuid4().hex[:8]}.zip",
                                                lambda f: progress(0.9 + 0.1 * f))
        record.files = len(manifest["checksums"]) + 1
        record.status, record.progress = DatasetExport.Status.SUCCEEDED, 1.0
    except Exception as exc:  # the job reports any failure on the page instead of dying silently
        log.exception("export %s failed", record.pk)
        record.status, record.error = DatasetExport.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "progress", "path", "files", "error", "finished_at"])
    _export_event(record)
    return record.status
