"""Writes for sample portraits: store the catalogue's samples once, and link photos that are already there."""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from webapp.accounts.models import Role, User
from webapp.photos.models import Photo
from webapp.photos.services import ingest_photo
from webapp.samples.catalogue import SAMPLES, SampleSpec, encode
from webapp.samples.models import Sample

SAMPLES_OWNER = "portrait-lab-samples"  # an account nobody signs in with: it only owns the samples


def samples_owner() -> User:
    user = User.objects.filter(username=SAMPLES_OWNER).first()
    if user is None:
        user = User(username=SAMPLES_OWNER, role=Role.RESEARCHER, is_active=False)
        user.set_unusable_password()
        user.save()
    return user


def _photo_for(spec: SampleSpec, payload: bytes, owner: User) -> Photo:
    """The library's copy of this exact file (an earlier first run stored the two scikit-image photos
    without marking them as samples), else a new one."""
    digest = hashlib.sha256(payload).hexdigest()
    existing = (Photo.objects.filter(sha256=digest, original_name=spec.file_name, sample__isnull=True)
                .exclude(owner__role=Role.GUEST).order_by("id").first())
    return existing or ingest_photo(upload=SimpleUploadedFile(spec.file_name, payload), owner=owner)


def ensure_samples(specs: tuple[SampleSpec, ...] = SAMPLES) -> int:
    """Idempotent: every catalogue sample has a photo and a Sample row; returns how many were added.
    Stored in catalogue order, so the first sample is the newest photo (the pickers list newest first)."""
    known = set(Sample.objects.values_list("key", flat=True))
    added = 0
    for position, spec in reversed(list(enumerate(specs))):
        if spec.key in known:
            continue
        with transaction.atomic():
            photo = _photo_for(spec, encode(spec), samples_owner())
            Sample.objects.create(key=spec.key, photo=photo, title=spec.title, credit=spec.credit,
                                  licence=spec.licence, derived=spec.derived, position=position)
        added += 1
    return added
