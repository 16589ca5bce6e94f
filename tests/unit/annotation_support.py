"""A small annotation workspace for tests: a researcher, three experts, two reviewers, photo groups
of small gradient portraits with human masks, and a project over them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import png_bytes


def portrait(seed: int, size=(40, 30)) -> np.ndarray:
    """A smooth colour field with a darker 'person' blob in the middle (values well inside 0–255)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    base = 70 + 90 * np.stack([xx, yy, 1 - xx], axis=-1) + rng.uniform(-3, 3, 3)
    blob = ((xx - 0.5) ** 2 + (yy - 0.55) ** 2) < 0.06
    base[blob] = base[blob] * 0.8 + np.array([40, 20, 10])
    return np.clip(base, 0, 255).astype(np.uint8)


def person_mask(size=(40, 30)) -> np.ndarray:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    m = (((xx - 0.5) ** 2 + (yy - 0.55) ** 2) < 0.06).astype(np.uint8) * 255
    return np.repeat(m[..., None], 3, axis=2)


@dataclass
class Workspace:
    researcher: object
    experts: list
    reviewers: list
    groups: list
    photos: dict = field(default_factory=dict)  # group id → [photos]


def quick_user(role: str):
    """A user with no password (API clients sign in with a token): hashing one costs ~0.3 s."""
    import uuid

    from webapp.accounts.models import User

    user = User(username=f"{role}-{uuid.uuid4().hex[:6]}", role=role)
    user.set_unusable_password()
    user.save()
    return user


def make_workspace(make_user=None, groups: int = 1, per_group: int = 3, size=(40, 30)) -> Workspace:
    from webapp.photos.services import attach_mask, create_group, ingest_photo

    researcher = quick_user("researcher")
    ws = Workspace(researcher, [quick_user("expert") for _ in range(3)], [quick_user("reviewer") for _ in range(2)], [])
    for g in range(groups):
        group = create_group(name=f"shoot {g}", created_by=researcher)
        ws.groups.append(group)
        ws.photos[group.pk] = []
        for i in range(per_group):
            photo = ingest_photo(upload=SimpleUploadedFile(f"g{g}_p{i}.png", png_bytes(portrait(10 * g + i, size))),
                                 owner=researcher, group=group)
            attach_mask(photo=photo, upload=SimpleUploadedFile("m.png", png_bytes(person_mask(size))), kind="human",
                        created_by=researcher)
            ws.photos[group.pk].append(photo)
    return ws


def make_project(ws: Workspace, **options):
    from webapp.annotation.services import create_project

    return create_project(owner=ws.researcher, title="Test shoot", group_ids=[g.pk for g in ws.groups], **options)


def assign_all(ws: Workspace, project, reviewer=None):
    from webapp.annotation.services import assign

    for a in project.assignments.order_by("project_group__index", "slot"):
        expert = ws.experts[project.slots.index(a.slot)]
        assign(assignment=a, by=ws.researcher, expert_id=expert.pk,
               reviewer_id=reviewer.pk if reviewer else None)
    return list(project.assignments.order_by("project_group__index", "slot"))


STYLES = {"a": {"exposure": 0.3, "temperature": 20.0, "contrast": 15.0},
          "b": {"exposure": 0.1, "temperature": 5.0},
          "c": {"exposure": 0.0, "temperature": -5.0, "saturation": 10.0}}


def edit_all(assignment, params: dict | None = None):
    from webapp.annotation import selectors, services

    params = params if params is not None else STYLES.get(assignment.slot, {})
    for photo in selectors.assignment_photos(assignment):
        services.save_params(assignment=assignment, photo=photo, params=params, user=assignment.expert)


def accept_all(ws: Workspace, project, reviewer=None):
    """Assign every slot, edit in the slot's style, submit, and accept: ready to freeze."""
    from webapp.annotation import services

    assignments = assign_all(ws, project, reviewer)
    for a in assignments:
        edit_all(a)
        services.submit(assignment=a, user=a.expert)
        services.review(assignment=a, user=reviewer or ws.reviewers[0], decision="accept")
    return assignments
