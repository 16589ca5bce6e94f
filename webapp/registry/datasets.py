"""A frozen annotation dataset version as the PPR10K-layout folder training reads.

The folder is ``DATA_DIR/registry/datasets/project-<id>-v<version>/`` (360p only: training and
evaluation read nothing else), written by ``webapp.annotation.export.export_dataset`` once per
version and reused by every later run on it; it is written under a temporary name and renamed, so a
run never reads half an export. A version superseded by a later freeze keeps its folder (the edits it
froze are no longer the project's current ones).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from webapp.annotation.export import export_dataset
from webapp.registry.models import TrainingRun

SIZES = ["360p"]


def folder_for(project_id: int, version: int) -> Path:
    return Path(settings.DATA_DIR) / "registry" / "datasets" / f"project-{project_id}-v{version}"


def manifest_sha256(folder: Path) -> str:
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def prepare(run: TrainingRun, progress: Callable[[float], None] | None = None) -> tuple[Path, bool]:
    """The run's dataset folder, exported now if missing; returns (folder, reused). An uploaded
    dataset (``uploads.store``) is its folder as checked at upload."""
    if run.upload_id is not None:
        folder = Path(run.upload.path)
        if not folder.is_dir():
            raise FileNotFoundError(f"the uploaded dataset {run.upload_id} has no folder left to train on")
        return folder, True
    folder = folder_for(run.project_id, run.dataset_version)
    if (folder / "manifest.json").is_file():
        return folder, True
    project = run.project
    if project.dataset_version != run.dataset_version:
        raise FileNotFoundError(f"dataset version {run.dataset_version} of project {project.pk} was superseded "
                                f"by version {project.dataset_version} and has no export left to train on")
    work = folder.with_name(folder.name + f".{run.pk}.partial")
    shutil.rmtree(work, ignore_errors=True)
    export_dataset(project, work, SIZES, progress)
    try:
        work.rename(folder)
    except OSError:  # a concurrent run finished the same export first: use that one
        shutil.rmtree(work, ignore_errors=True)
        if not (folder / "manifest.json").is_file():
            raise
        return folder, True
    return folder, False


def dataset_sha256(run: TrainingRun, folder: Path) -> str:
    """What identifies the data: the export's manifest, or the uploaded zip's own bytes."""
    return run.upload.sha256 if run.upload_id is not None else manifest_sha256(folder)


def describe(run: TrainingRun) -> dict:
    """The run's dataset as the card, the API and the provenance name it."""
    if run.upload_id is not None:
        upload = run.upload
        return {"kind": "upload", "upload": upload.pk, "name": upload.name, "sha256": upload.sha256,
                "counts": upload.counts, "uploaded_at": upload.created_at.isoformat(),
                "note": "uploaded PPR10K-layout zip: provenance stops here (no photos, experts or reviews "
                        "on the platform behind it)"}
    return {"kind": "annotation", "project": run.project_id, "title": run.project.title,
            "dataset_version": run.dataset_version, "manifest_sha256": run.manifest_sha256 or None}


def rows(run: TrainingRun) -> list[dict]:
    """``groups.csv`` of the run's export: group, idx, photo_id, original_name, width, height, split.
    None for an upload: its photo ids (if it has a groups.csv at all) are not the platform's."""
    if run.upload_id is not None:
        return []
    path = Path(run.dataset_path or folder_for(run.project_id, run.dataset_version)) / "groups.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def val_photos(run: TrainingRun) -> list[int]:
    return [int(r["photo_id"]) for r in rows(run) if r["split"] == "val"]


def photo_ids_by_name(run: TrainingRun) -> dict[str, int]:
    """PPR10K file stem ``{g}_{i}`` → photo id."""
    return {f"{r['group']}_{r['idx']}": int(r["photo_id"]) for r in rows(run)}
