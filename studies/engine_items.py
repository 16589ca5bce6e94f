"""Items from engines (writes): run registered engines as jobs over a photo group and turn the results
into study items.

Each requested engine with its preset parameters becomes a *method* (``{"engine": "adjust", "params":
{"exposure": 0.5}, "name": "adjust +0.5 EV"}``); every photo × method is one job made by
``webapp.jobs.services.create_job`` and recorded as a ``JobItem``. Once every job of a photo has
succeeded, ``gather_job_items`` builds the photo's item: the photo's display image as the input and
each job's ``image`` output as that method's output (normalised like any item: the input's size,
re-encoded JPEG, degraded copy). Items are gathered by ``POST /api/studies/<id>/items/from-jobs/gather/``
(the setup page calls it while jobs run), or by the job completion path through ``job_finished``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db import transaction

import inference.engines as engines
from studies import images
from studies.models import Item, JobItem, Study
from studies.services import StudyError, _frozen, add_item_arrays, add_method
from webapp.jobs.models import Job

MAX_JOBS = 5000
SUCCEEDED = Job.Status.SUCCEEDED
GAVE_UP = (Job.Status.FAILED, Job.Status.CANCELLED)


def method_specs(methods) -> list[dict]:
    """Validate ``[{"engine", "params"?, "name"?}, ...]`` (or engine names): only engines that need
    nothing but a photo and produce an image; distinct method names (default: the engine's name)."""
    if not isinstance(methods, list) or not methods:
        raise StudyError('methods must be a non-empty list of {"engine", "params", "name"}.')
    out, names = [], set()
    for entry in methods:
        if isinstance(entry, str):
            entry = {"engine": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("engine"), str):
            raise StudyError('Each method needs an "engine" (a registered engine name).')
        try:
            spec = engines.spec(entry["engine"])
        except KeyError:
            raise StudyError(f"Unknown engine {entry['engine']!r}. Known engines: {', '.join(engines.names())}.") \
                from None
        if tuple(spec.inputs) != ("image",) or "image" not in spec.outputs:
            raise StudyError(f"Engine {spec.name} needs more than a photo ({', '.join(spec.inputs)}); only engines "
                             "that work on a photo alone can make study items.")
        params = entry.get("params") or {}
        try:
            engines.validate_params(spec, params)
        except engines.EngineInputError as exc:
            raise StudyError(f"{spec.name}: {exc}") from None
        name = str(entry.get("name") or spec.name).strip()[:100]
        if name in names:
            raise StudyError(f"Two methods are named {name!r}; give each engine setting its own name.")
        names.add(name)
        out.append({"engine": spec.name, "params": params, "name": name})
    return out


def items_from_jobs(study: Study, *, owner, group, methods, subset: str | None = None) -> int:
    """Create one job per photo of ``group`` × method; returns how many jobs were created. Asking
    again creates jobs only where none ran yet or the last one failed (a retry); the rest is kept."""
    from webapp.jobs.services import create_job
    from webapp.photos.selectors import photos_visible_to
    from webapp.refusal import Refusal

    _frozen(study)
    specs = method_specs(methods)
    photos = list(photos_visible_to(owner).filter(group=group).order_by("id"))
    if not photos:
        raise StudyError("That photo group has no photos you can use.")
    if len(photos) * len(specs) > MAX_JOBS:
        raise StudyError(f"That would be {len(photos) * len(specs)} jobs; at most {MAX_JOBS} at once.")
    subset = (group.name if subset is None else str(subset)).strip()[:100]
    existing = {(j.photo_id, j.method): j for j in
                JobItem.objects.filter(study=study, photo__in=photos).select_related("job")}
    created = 0
    with transaction.atomic():  # all jobs or none (each is enqueued when this commits)
        for spec in specs:  # the study's methods, in the order asked for
            add_method(study, spec["name"])
        for photo in photos:
            for spec in specs:
                old = existing.get((photo.pk, spec["name"]))
                if old is not None and old.job.status not in GAVE_UP:
                    continue
                try:
                    job = create_job(owner=owner, engine=spec["engine"], inputs={"photo": photo.pk},
                                     params=spec["params"])
                except Refusal as exc:
                    raise StudyError(f"{spec['name']} on photo {photo.pk}: {exc}", exc.status) from None
                if old is None:
                    JobItem.objects.create(study=study, photo=photo, method=spec["name"], job=job, subset=subset)
                else:
                    old.job, old.subset, old.item = job, subset, None
                    old.save(update_fields=["job", "subset", "item"])
                created += 1
    return created


def _read(path: str):
    with default_storage.open(path, "rb") as fh:
        return images.decode(fh.read())


def _item_name(study: Study, photo, rows: list[JobItem]) -> str:
    for row in rows:
        if row.item_id:
            return row.item.name
    stem = PurePosixPath(photo.original_name or "").stem or f"photo-{photo.pk}"
    name = stem[:180]
    if Item.objects.filter(study=study, name=name).exists():
        name = f"{stem[:160]}-{photo.pk}"
    return name


def _build(study: Study, photo_id: int) -> Item | None:
    """Build (or rebuild, when methods were added) one photo's item if all its jobs succeeded."""
    with transaction.atomic():
        rows = list(JobItem.objects.select_for_update(of=("self",)).filter(study=study, photo_id=photo_id)
                    .select_related("job", "photo", "item").order_by("id"))
        if not rows or any(r.job.status != SUCCEEDED for r in rows) or all(r.item_id for r in rows):
            return None  # still running, given up, or already gathered (by a concurrent call)
        photo = rows[0].photo
        outputs = {}
        for row in rows:
            path = next((o["path"] for o in row.job.outputs if o.get("name") == "image"), None)
            if path is None:
                raise StudyError(f"Job {row.job_id} ({row.method}) stored no image output.", 500)
            outputs[row.method] = _read(path)
        item = add_item_arrays(study, name=_item_name(study, photo, rows), subset=rows[-1].subset,
                               input_rgb=_read(photo.display.name), outputs=outputs, seed=photo.pk)
        JobItem.objects.filter(pk__in=[r.pk for r in rows]).update(item=item)
    return item


def gather_job_items(study: Study, *, limit: int = 20) -> int:
    """Build items for up to ``limit`` photos whose jobs have all succeeded; returns how many were
    built. Photos with a failed job wait for a retry (see ``items_from_jobs``)."""
    if study.joined:
        return 0  # frozen: nothing may change any more
    waiting: dict[int, list[str]] = defaultdict(list)
    for photo_id, status, item_id in JobItem.objects.filter(study=study).values_list(
            "photo_id", "job__status", "item_id"):
        waiting[photo_id].append("gathered" if item_id and status == SUCCEEDED else status)
    built = 0
    for photo_id, states in waiting.items():
        if built >= limit:
            break
        if all(s in (SUCCEEDED, "gathered") for s in states) and SUCCEEDED in states:
            built += _build(study, photo_id) is not None
    return built


def job_finished(job_id: int) -> int:
    """For the job completion path: gather the item this job completes, if it was the last one."""
    built = 0
    for row in JobItem.objects.filter(job_id=job_id, job__status=SUCCEEDED).select_related("study"):
        if not row.study.joined:
            built += _build(row.study, row.photo_id) is not None
    return built
