"""``manage.py demo_annotation``: a finished annotation project built through the same services the
pages use.

Photo groups are shoots made from the photos the platform ships (``inference.datasets``: each group
one photo, varied crops, exposure and white balance); three simulated experts retouch them with
distinct, consistent styles (slot a strong and warm, b and c milder — ``inference.datasets.STYLES``,
on top of undoing each shot's lighting); they save a few intermediate versions like a person moving
sliders, and answer automatic QA's clipping findings by lifting the blacks; a reviewer sends one assignment back with a pinned issue carrying a suggestion, the expert
applies it and resubmits, everything is accepted and frozen into dataset version 1.
"""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from inference.datasets import load_sources, synth_group
from inference.imagefiles import quantise
from webapp.accounts.models import Role, User
from webapp.annotation import qa, selectors, services
from webapp.annotation.models import AnnotationProject, Edit
from webapp.photos.services import create_group, ingest_photo, save_mask_array

EXPERTS = {"a": "expert-warm", "b": "expert-mild", "c": "expert-neutral"}
REVIEWER = "reviewer-demo"


def _user(username: str, role: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, role=role)
        user.set_unusable_password()  # `manage.py adduser NAME --role ROLE --password …` to sign in
        user.save()
    return user


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(quantise(image, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _rounded(params: dict) -> dict:
    return {k: round(float(v), 2 if k == "exposure" else 0) for k, v in params.items()}


def build(*, groups: int, per_group: int, seed: int, owner: str) -> AnnotationProject:
    researcher = _user(owner, Role.RESEARCHER)
    experts = {slot: _user(name, Role.EXPERT) for slot, name in EXPERTS.items()}
    reviewer = _user(REVIEWER, Role.REVIEWER)
    sources = load_sources()
    targets: dict[int, dict[str, dict]] = {}  # photo id → slot → parameters
    group_ids = []
    for g in range(groups):
        group = create_group(name=f"Shoot {g + 1} (seed {seed})", created_by=researcher)
        group_ids.append(group.pk)
        for image in synth_group(seed, g, per_group, sources):
            photo = ingest_photo(upload=SimpleUploadedFile(f"shoot{g + 1}_{image.idx + 1:02d}.png",
                                                           _png(image.source(None))), owner=researcher, group=group)
            save_mask_array(photo=photo, mask=image.mask, kind="human", created_by=researcher)
            targets[photo.pk] = {slot: _rounded(image.target_params(slot)) for slot in EXPERTS}
    project = services.create_project(owner=researcher, title=f"Demo shoot retouching (seed {seed})",
                                      group_ids=group_ids, duplicates=1 if groups > 1 else 0, split_seed=seed)
    rng = np.random.default_rng(seed)
    assignments = []
    for a in project.assignments.select_related("project_group").order_by("project_group__index", "slot"):
        assignments.append(services.assign(assignment=a, by=researcher, expert_id=experts[a.slot].pk,
                                           reviewer_id=reviewer.pk))
    for a in assignments:
        _retouch(a, targets, rng)
        _submit(a)
    sent_back = assignments[0]
    for a in assignments:
        if a.pk == sent_back.pk:
            _request_changes(a, reviewer)
        else:
            services.review(assignment=a, user=reviewer, decision="accept")
    _fix(sent_back.__class__.objects.get(pk=sent_back.pk))
    services.review(assignment=sent_back.__class__.objects.get(pk=sent_back.pk), user=reviewer, decision="accept")
    return services.freeze(project=project, by=researcher)


def _retouch(assignment, targets, rng) -> None:
    """Three saves per photo, approaching the expert's target like slider moves, ~20–60 s apart."""
    for photo in selectors.assignment_photos(assignment):
        final = targets[photo.pk][assignment.slot]
        if photo.pk in assignment.duplicates:  # the same photo again, unknowingly: nearly the same edit
            final = {**final, "exposure": round(final.get("exposure", 0.0) + float(rng.normal(0, 0.05)), 2)}
        for fraction in (0.4, 0.8, 1.0):
            services.save_params(assignment=assignment, photo=photo, user=assignment.expert,
                                 params=_rounded({k: v * fraction for k, v in final.items()}))
    edits = list(Edit.objects.filter(assignment=assignment).order_by("id"))
    start = timezone.now() - timedelta(hours=2)
    offsets = np.cumsum(rng.uniform(20, 60, len(edits)))
    for edit, offset in zip(edits, offsets, strict=True):
        Edit.objects.filter(pk=edit.pk).update(saved_at=start + timedelta(seconds=float(offset)))


def _submit(assignment, attempts: int = 4):
    """Submit like a person would: when QA finds clipping, lift the blacks (or pull the whites) of
    the photos it names and submit again. Any other QA failure is raised."""
    for attempt in range(attempts):
        try:
            return services.submit(assignment=assignment, user=assignment.expert)
        except services.Refusal as refusal:
            problems = refusal.errors.get("qa", [])
            if attempt == attempts - 1 or not problems or not all("clipped" in m for m in problems):
                raise
            for photo in selectors.assignment_photos(assignment):
                label = f"{qa.photo_label(assignment, photo)}:"
                for message in (m for m in problems if m.startswith(label)):
                    params, _ = selectors.current_params(assignment, photo)
                    key, step = ("blacks", 20.0) if "pure black" in message else ("whites", -20.0)
                    params[key] = max(-100.0, min(100.0, params[key] + step))
                    services.save_params(assignment=assignment, photo=photo, params=params, user=assignment.expert)
    return None


def _request_changes(assignment, reviewer) -> None:
    photo = selectors.group_photos(assignment.project_group)[0]
    params, _ = selectors.current_params(assignment, photo)
    w, h = photo.width, photo.height
    services.review(assignment=assignment, user=reviewer, decision="changes_requested", issues=[{
        "photo": photo.pk, "region": {"box": [round(w * 0.3), round(h * 0.15), round(w * 0.7), round(h * 0.6)]},
        "slider": "exposure", "comment": "The face is a little hot compared with the rest of the shoot.",
        "suggested_params": {"exposure": round(params["exposure"] - 0.15, 2)}}])


def _fix(assignment) -> None:
    for issue in assignment.issues.filter(state="open"):
        services.resolve_issue(issue=issue, user=assignment.expert, apply_suggestion=True,
                               reply="Applied the suggestion.")
    _submit(assignment)
