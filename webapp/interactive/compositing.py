"""Paste a person photo into a background photo (``inference.compose.make_composite``) and store
the composite as a new photo with its foreground mask, ready for ``harmonize``."""

from __future__ import annotations

import numpy as np
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

import inference.engines as engines
from inference import imageio
from inference.compose import make_composite
from inference.people import detect_faces, person_mask
from webapp.photos.models import Mask, Photo
from webapp.photos.selectors import load_mask
from webapp.photos.services import ingest_photo, save_mask_array
from webapp.refusal import Refusal


def person_cutout(photo: Photo) -> tuple[np.ndarray, np.ndarray, str]:
    """(rgb, mask, source): the PNG's alpha, else a stored human/foreground mask, else faces+GrabCut."""
    with default_storage.open(photo.original.name, "rb") as fh:
        decoded = imageio.decode(fh.read(), max_pixels=10**9)
    rgb = decoded.rgb
    if decoded.alpha is not None and float(decoded.alpha.min()) < 0.99:
        return rgb, np.asarray(decoded.alpha, np.float32), "alpha"
    stored = photo.masks.filter(kind__in=[Mask.Kind.HUMAN, Mask.Kind.FOREGROUND]).order_by("-id").first()
    if stored is not None:
        return rgb, load_mask(stored), "mask"
    faces = detect_faces(rgb)
    mask = person_mask(rgb, faces)
    if float(mask.max(initial=0.0)) <= 0.0:
        raise Refusal("No person was found in that photo. Upload a PNG cut-out with a transparent "
                            "background, or attach a human mask to the photo first.")
    return rgb, mask, "grabcut"


def create_composite(*, person: Photo, background: Photo, x: float, y: float, scale: float,
                     owner) -> tuple[Photo, Mask, str]:
    rgb, mask, source = person_cutout(person)
    with default_storage.open(background.original.name, "rb") as fh:
        bg = imageio.decode(fh.read(), max_pixels=10**9).rgb
    try:
        comp, comp_mask = make_composite(rgb, mask, bg, x, y, scale)
    except engines.EngineInputError as exc:
        raise Refusal(str(exc)) from exc
    name = f"composite-{person.pk}-on-{background.pk}.png"
    photo = ingest_photo(upload=SimpleUploadedFile(name, imageio.encode_png(comp)), owner=owner)
    record = save_mask_array(photo=photo, mask=comp_mask, kind=Mask.Kind.FOREGROUND, created_by=owner)
    return photo, record, source
