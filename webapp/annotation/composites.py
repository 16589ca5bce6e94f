"""Harmonization ground truth: a researcher builds composites for a harmonization project — a
portrait's person cut out with its mask, pasted onto a background photo at a chosen place and
scale, with a reference region on the background — and each becomes a photo of one of the
project's groups, with its foreground and reference masks, ready for the experts' slots.

The compositing is the platform's own (``inference.compose.make_composite``, the cut-out of
``webapp.interactive.compositing.person_cutout``), so a composite built here and one built on
/try/harmonize/ are the same pixels. Everything is checked before anything is stored.
"""

from __future__ import annotations

import cv2
import numpy as np
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

import inference.engines as engines
from inference import imageio
from inference.compose import make_composite
from webapp.annotation.models import AnnotationProject, Assignment, ProjectGroup
from webapp.interactive.compositing import person_cutout
from webapp.photos.inputs import validate_box
from webapp.photos.models import Mask, Photo
from webapp.photos.services import create_group, ingest_photo, save_mask_array
from webapp.refusal import Conflict, NotFound, Refusal

MAX_BRUSH_POINTS = 2000  # a brushed region: [x, y, radius] dabs in the photo's pixels
State = Assignment.State


def _number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and bool(np.isfinite(v))


def clean_brush(points, width: int, height: int, *, limit: int = MAX_BRUSH_POINTS, what: str = "region.brush") -> list:
    """``[[x, y, radius], …]`` inside a ``width`` × ``height`` image, 1 ≤ radius ≤ half the long side."""
    if not isinstance(points, list) or not points:
        raise Refusal(f"{what} must be a non-empty list of [x, y, radius] points")
    if len(points) > limit:
        raise Refusal(f"{what} has {len(points)} points; at most {limit} are accepted (paint with a larger brush)")
    top = max(width, height) / 2
    out = []
    for i, p in enumerate(points):
        if not isinstance(p, list) or len(p) != 3 or not all(_number(v) for v in p):
            raise Refusal(f"{what}[{i}] must be [x, y, radius] with numbers")
        x, y, r = (float(v) for v in p)
        if not (0 <= x < width and 0 <= y < height):
            raise Refusal(f"{what}[{i}] at ({x:g}, {y:g}) lies outside the {width} × {height} image")
        if not 1 <= r <= top:
            raise Refusal(f"{what}[{i}]: the radius must be between 1 and {top:g} pixels")
        out.append([round(x, 1), round(y, 1), round(r, 1)])
    return out


def region_mask(region: dict, height: int, width: int) -> np.ndarray:
    """A cleaned ``{"box": …}`` or ``{"brush": …}`` region as a float32 0/1 mask."""
    mask = np.zeros((height, width), np.uint8)
    if "box" in region:
        x0, y0, x1, y1 = region["box"]
        mask[int(round(y0)):int(round(y1)), int(round(x0)):int(round(x1))] = 1
    for x, y, r in region.get("brush", []):
        cv2.circle(mask, (int(round(x)), int(round(y))), max(1, int(round(r))), 1, thickness=-1)
    return mask.astype(np.float32)


class _Size:  # what validate_box needs of a photo
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height


def clean_region(region, width: int, height: int, what: str = "reference") -> dict:
    if isinstance(region, dict) and set(region) == {"box"}:
        try:
            return {"box": validate_box(region["box"], _Size(width, height))}
        except Refusal as exc:
            raise Refusal(exc.message.replace("reference.box", f"{what}.box")) from None
    if isinstance(region, dict) and set(region) == {"brush"}:
        return {"brush": clean_brush(region["brush"], width, height, what=f"{what}.brush")}
    raise Refusal(f'{what} must be {{"box": [x0, y0, x1, y1]}} or {{"brush": [[x, y, radius], …]}} '
                  "in the background's pixels")


def _owned(project: AnnotationProject, user) -> None:
    if project.owner_id != user.pk and not user.is_superuser:
        raise NotFound("No such project, or it is not yours.")


def cutout(*, photo: Photo, user) -> dict:
    """The portrait's person for the composite page: a stored human/foreground mask, the PNG's
    alpha, or the people segmenter (faces + GrabCut). A mask found by the segmenter or the alpha is
    saved as the photo's human mask, so the page shows exactly what will be pasted."""
    rgb, mask, source = person_cutout(photo)
    if source != "mask":
        record = save_mask_array(photo=photo, mask=mask, kind=Mask.Kind.HUMAN, created_by=user)
    else:
        record = photo.masks.filter(kind__in=[Mask.Kind.HUMAN, Mask.Kind.FOREGROUND]).order_by("-id").first()
    on = mask > 0.5
    ys, xs = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    box = [int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1] if len(xs) else None
    return {"photo": photo.pk, "mask": record.pk, "url": record.file.url, "source": source, "box": box,
            "width": photo.width, "height": photo.height}


def _target_group(project: AnnotationProject, user, group, group_name) -> tuple[ProjectGroup | None, str]:
    """The project group a composite joins: an existing one whose work nobody has submitted yet, or
    (``group`` null) a new one named ``group_name``."""
    if group is None:
        name = str(group_name or "").strip()
        if not name:
            raise Refusal("Name the new group, or choose one of the project's groups.", errors={"group_name": ["required"]})
        return None, name[:200]
    if isinstance(group, bool) or not isinstance(group, int):
        raise Refusal("group must be the index of one of the project's groups (or null for a new group)")
    pg = project.project_groups.select_related("group").filter(index=group).first()
    if pg is None:
        raise Refusal(f"This project has no group {group}.")
    started = pg.assignments.exclude(state__in=[State.QUEUED, State.IN_PROGRESS])
    if started.exists():
        raise Conflict(f"Group {pg.index} ({pg.group.name}) has been submitted for review (slot {started.first().slot}); "
                       "a new composite would change work already reviewed. Put it in a new group.")
    return pg, pg.group.name


def _new_project_group(project: AnnotationProject, name: str, user) -> ProjectGroup:
    group = create_group(name=name, created_by=user)
    index = (max(project.project_groups.values_list("index", flat=True), default=-1)) + 1
    pg = ProjectGroup.objects.create(project=project, group=group, index=index)
    for slot in project.slots:
        Assignment.objects.create(project=project, project_group=pg, slot=slot)
    return pg


def add_composite(*, project: AnnotationProject, user, person: Photo, background: Photo, x, y, scale,
                  reference, group=None, group_name: str = "") -> dict:
    """Paste ``person`` onto ``background`` at (x, y) (the person photo's top-left corner, in the
    background's pixels) × ``scale``, with ``reference`` (box or brush, background pixels; the part
    under the pasted person is left out), and add the composite to a group of the project."""
    _owned(project, user)
    if project.kind != AnnotationProject.Kind.HARMONIZATION:
        raise Conflict("Composites belong to harmonization projects; this one is a retouching project.")
    for name, v in (("x", x), ("y", y), ("scale", scale)):
        if not _number(v):
            raise Refusal(f"{name} must be a number", errors={name: ["must be a number"]})
    if not 0.01 <= float(scale) <= 20:
        raise Refusal("scale must lie between 0.01 and 20", errors={"scale": ["out of range"]})
    if person.pk == background.pk:
        raise Refusal("Choose a background photo other than the portrait.")
    ref = clean_region(reference, background.width, background.height)
    pg, name = _target_group(project, user, group, group_name)
    rgb, mask, _source = person_cutout(person)
    with default_storage.open(background.original.name, "rb") as fh:
        bg = imageio.decode(fh.read(), max_pixels=10**9).rgb
    try:
        comp, fg = make_composite(rgb, mask, bg, float(x), float(y), float(scale))
    except engines.EngineInputError as exc:
        raise Refusal(str(exc)) from None
    ref_mask = region_mask(ref, *fg.shape) * (fg <= 0.5)
    if not ref_mask.any():
        raise Refusal("The reference region lies entirely under the pasted person: mark part of the background.")
    if float((fg > 0.5).mean()) < 1e-4:
        raise Refusal("Almost none of the person is inside the background: drag them into the picture.")
    with transaction.atomic():
        if pg is None:
            pg = _new_project_group(project, name, user)
        stem = f"composite-{person.pk}-on-{background.pk}"
        photo = ingest_photo(upload=SimpleUploadedFile(f"{stem}.png", imageio.encode_png(comp)), owner=user,
                             group=pg.group)
        fg_record = save_mask_array(photo=photo, mask=fg, kind=Mask.Kind.FOREGROUND, created_by=user)
        ref_record = save_mask_array(photo=photo, mask=ref_mask, kind=Mask.Kind.REFERENCE, created_by=user)
    return {"photo": photo, "group": pg, "foreground": fg_record, "reference": ref_record, "region": ref,
            "person_source": _source}
