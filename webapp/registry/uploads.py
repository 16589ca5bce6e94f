"""Uploaded PPR10K-layout zips: training data that did not come from an annotation project.

The zip holds the layout ``inference.datasets.PPR10KFolder`` reads (at its root or inside one
top-level folder)::

    360p/train/source/{g}_{i}.tif        sources (any image format PPR10KFolder reads)
    360p/train/target_<e>/{g}_{i}.tif    an expert's targets, e = a, b or c
    360p/val/...                         the same for the held-out split (optional: no evaluation)
    masks_360p/{g}_{i}.png               people masks, one per source
    groups.csv, manifest.json            optional

It is inflated with ``webapp.safezip`` (size, ratio and file-count limits), names that climb out of
the folder or are absolute are refused, and the folder is checked with ``PPR10KFolder`` before
anything is recorded: a bad zip leaves no files and no row. Only 360p is kept (training and
evaluation read nothing else).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from webapp import safezip
from webapp.refusal import NotFound, Refusal, TooLarge
from webapp.registry.models import DatasetUpload

EXPERTS = ("a", "b", "c")
SIZE = "360p"
MAX_FILES = 20000
KEEP_TOP = {SIZE, f"masks_{SIZE}", "groups.csv", "manifest.json"}


def uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / "registry" / "uploads"


def _names(data: bytes) -> list[str]:
    """The archive's member names; a name that is absolute or climbs out (``..``) refuses the zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [m.filename.replace("\\", "/") for m in archive.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Refusal(f"That is not a zip archive ({exc}).") from None
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise Refusal(f"The archive holds a path outside its folder ({name[:200]!r}); it is refused.")
    return names


def _prefix(names: list[str]) -> str:
    """``""`` when the layout is at the zip's root, ``"folder/"`` when it is inside one top-level folder."""
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if tops & KEEP_TOP:
        return ""
    inner = {PurePosixPath(n).parts[1] for n in names if len(PurePosixPath(n).parts) > 1}
    if len(tops) == 1 and inner & KEEP_TOP:
        return f"{next(iter(tops))}/"
    return ""


def _check_layout(root: Path) -> tuple[list[str], dict]:
    """(experts with a complete train split, counts), or a Refusal naming what is missing."""
    from inference.datasets import PPR10KFolder  # deferred: numpy and image readers

    def plain(exc: Exception) -> str:  # the folder's own path means nothing to the uploader
        return str(exc).replace(f"{root}/", "").replace(str(root), "the zip")

    experts, problems, counts = [], [], {"train": 0, "val": 0}
    for expert in EXPERTS:
        try:
            train = PPR10KFolder(root, "train", expert, SIZE)
        except (FileNotFoundError, ValueError) as exc:
            problems.append(plain(exc))
            continue
        if len(train) == 0:
            problems.append(f"{SIZE}/train/source holds no images")
            continue
        try:
            train[0]  # a file that is not an image refuses the upload now, not in the training job
            val = PPR10KFolder(root, "val", expert, SIZE) if (root / SIZE / "val").is_dir() else []
            if len(val):
                val[0]
        except Exception as exc:  # noqa: BLE001 - any decoder's complaint about an uploaded file is a 400
            raise Refusal(f"The dataset is not readable: {plain(exc)}") from None
        experts.append(expert)
        counts = {"train": len(train), "val": len(val)}
    if not experts:
        unique = list(dict.fromkeys(problems))
        raise Refusal("The zip is not a PPR10K-layout dataset: " + "; ".join(unique[:4]) +
                      f". Expected {SIZE}/train/source/, {SIZE}/train/target_a/ (or _b, _c) and masks_{SIZE}/, "
                      "one file per source in each, named {group}_{index}.")
    return experts, counts


def store(*, owner, upload) -> DatasetUpload:
    """Inflate, check and record an uploaded zip (a Django ``UploadedFile``); nothing stays on refusal."""
    if upload is None:
        raise Refusal('Send the dataset as a zip in the multipart field "file".', errors={"file": ["missing"]})
    if upload.size > settings.ARCHIVE_MAX_TOTAL_BYTES:
        raise TooLarge(f"The zip is {upload.size / 2**20:,.0f} MiB; at most "
                       f"{settings.ARCHIVE_MAX_TOTAL_BYTES / 2**20:,.0f} MiB.")
    data = upload.read()
    prefix = _prefix(_names(data))

    def keep(name: str) -> bool:
        if not name.startswith(prefix):
            return False
        parts = PurePosixPath(name[len(prefix):]).parts
        return bool(parts) and parts[0] in KEEP_TOP

    members = safezip.read_members(data, max_members=MAX_FILES, keep=keep)
    folder = uploads_dir() / secrets.token_hex(8)
    try:
        for name, content in members.items():
            target = (folder / name[len(prefix):]).resolve()
            if not target.is_relative_to(folder.resolve()):  # belt and braces after _names
                raise Refusal(f"The archive holds a path outside its folder ({name[:200]!r}); it is refused.")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            except OSError as exc:  # a file and a folder of one name, a name too long for the disk…
                raise Refusal(f"{name[:200]} cannot be stored ({exc.strerror or exc}).") from None
        if not folder.is_dir():
            raise Refusal(f"The zip is not a PPR10K-layout dataset: it holds no {SIZE}/ folder, masks_{SIZE}/ "
                          "or groups.csv.")
        experts, counts = _check_layout(folder)
        return DatasetUpload.objects.create(
            owner=owner, name=(getattr(upload, "name", "") or "dataset.zip")[:200], path=str(folder),
            sha256=hashlib.sha256(data).hexdigest(), experts=experts,
            counts={**counts, "files": len(members)})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def summary(upload: DatasetUpload) -> dict:
    return {"id": upload.pk, "kind": "upload", "name": upload.name, "experts": upload.experts,
            "counts": upload.counts, "sha256": upload.sha256, "created_at": upload.created_at}


def owned_upload(owner, upload_id) -> DatasetUpload:
    if isinstance(upload_id, bool) or not isinstance(upload_id, int) or not 0 < upload_id < 2**63:
        raise Refusal("upload must be the id of an uploaded dataset.", errors={"upload": ["not an id"]})
    scope = DatasetUpload.objects.all() if owner.is_superuser else DatasetUpload.objects.filter(owner=owner)
    found = scope.filter(pk=upload_id).first()
    if found is None:
        raise NotFound("No such uploaded dataset, or it is not yours.")
    return found
