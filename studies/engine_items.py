"""Items from engines (writes): run registered engines as jobs over a photo group and turn the results
into study items.

Each requested engine with its preset parameters becomes a *method* (``{"engine": "adjust", "params":
{"exposure": 0.5}, "name": "adjust +0.5 EV"}``); every photo × method is one job made by
``webapp.jobs.services.create_job`` and recorded as a ``JobItem``. When a job finishes, ``webapp.jobs``
sends ``job_finished``; ``on_job_finished`` (connected in ``StudiesConfig.ready``) then tells the
study's page (``/ws/studies/<id>/``) and, once every job of the photo has succeeded, builds the
photo's item: the photo's display image as the input and each job's ``image`` output as that
method's output (normalised like any item: the input's size, re-encoded JPEG, degraded copy).
Building is idempotent and safe when two of a photo's jobs finish at once (the photo's rows are
locked; whoever comes second finds the item built). Asking for the items again builds any photo
whose jobs all succeeded but whose item is missing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db import transaction

import inference.engines as engines
from studies import images, inputs, live
from studies.models import Item, JobItem, Study
from studies.setup import add_item_arrays, add_method, require_unfrozen
from webapp.jobs.models import Job
from webapp.jobs.services import create_job
from webapp.photos.selectors import photos_visible_to
from webapp.refusal import Refusal

log = logging.getLogger("portrait_lab.studies")

MAX_JOBS = 5000
PHOTO_INPUTS = {"background"}  # engine inputs a method may fix to one photo for every item
SUCCEEDED = Job.Status.SUCCEEDED
GAVE_UP = (Job.Status.FAILED, Job.Status.CANCELLED)


def method_specs(methods) -> list[dict]:
    """Validate ``[{"engine", "params"?, "name"?, "inputs"?}, ...]`` (or engine names): only engines that
    need nothing but a photo — or a photo plus photos fixed for the method in ``inputs`` (e.g.
    ``{"background": 12}`` for ``background.replace``) — and produce an image; distinct method names
    (default: the engine's name)."""
    if not isinstance(methods, list) or not methods:
        raise Refusal('methods must be a non-empty list of {"engine", "params", "name"}.')
    out, names = [], set()
    for entry in methods:
        if isinstance(entry, str):
            entry = {"engine": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("engine"), str):
            raise Refusal('Each method needs an "engine" (a registered engine name).')
        try:
            spec = engines.spec(entry["engine"])
        except KeyError:
            raise Refusal(f"Unknown engine {entry['engine']!r}. Known engines: {', '.join(engines.names())}.") \
                from None
        # photos an engine needs besides the item's own (background.replace's background) are fixed per method
        fixed = entry.get("inputs") or {}
        if not isinstance(fixed, dict) or set(fixed) - PHOTO_INPUTS:
            raise Refusal(f'A method\'s "inputs" may only name {", ".join(sorted(PHOTO_INPUTS))} (photo ids).')
        if set(spec.inputs) - {"image"} != set(fixed) or "image" not in spec.inputs or "image" not in spec.outputs:
            raise Refusal(f"Engine {spec.name} needs more than a photo ({', '.join(spec.inputs)}); only engines "
                             'that work on a photo alone (or with a fixed photo in "inputs", e.g. '
                             '{"background": id}) can make study items.')
        params = entry.get("params") or {}
        try:
            engines.validate_params(spec, params)
        except engines.EngineInputError as exc:
            raise Refusal(f"{spec.name}: {exc}") from None
        name = str(entry.get("name") or spec.name).strip()[:100]
        if name in names:
            raise Refusal(f"Two methods are named {name!r}; give each engine setting its own name.")
        names.add(name)
        out.append({"engine": spec.name, "params": params, "name": name, "inputs": fixed})
    return out


def items_from_jobs(study: Study, *, owner, group, methods, subset: str | None = None) -> int:
    """Create one job per photo of ``group`` × method; returns how many jobs were created. Asking
    again creates jobs only where none ran yet or the last one failed (a retry); the rest is kept."""
    require_unfrozen(study)
    specs = method_specs(methods)
    photos = list(photos_visible_to(owner).filter(group=group).order_by("id"))
    if not photos:
        raise Refusal("That photo group has no photos you can use.")
    if len(photos) * len(specs) > MAX_JOBS:
        raise Refusal(f"That would be {len(photos) * len(specs)} jobs; at most {MAX_JOBS} at once.")
    subset = (group.name if subset is None else str(subset)).strip()[:100]
    inputs.storable(subset, "A subset name")
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
                    job = create_job(owner=owner, engine=spec["engine"], inputs={"photo": photo.pk, **spec["inputs"]},
                                     params=spec["params"])
                except Refusal as exc:  # say which job was refused
                    raise Refusal(f"{spec['name']} on photo {photo.pk}: {exc.message}", exc.status) from None
                if old is None:
                    JobItem.objects.create(study=study, photo=photo, method=spec["name"], job=job, subset=subset)
                else:
                    old.job, old.subset, old.item = job, subset, None
                    old.save(update_fields=["job", "subset", "item"])
                created += 1
    build_ready_items(study)
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
            return None  # still running, given up, or already built (by a concurrent call)
        photo = rows[0].photo
        outputs = {}
        for row in rows:
            path = next((o["path"] for o in row.job.outputs if o.get("name") == "image"), None)
            if path is None:
                log.error("job %s (%s) succeeded without an image output; photo %s gets no item",
                          row.job_id, row.method, photo_id)
                return None
            outputs[row.method] = _read(path)
        item = add_item_arrays(study, name=_item_name(study, photo, rows), subset=rows[-1].subset,
                               input_rgb=_read(photo.display.name), outputs=outputs, seed=photo.pk)
        JobItem.objects.filter(pk__in=[r.pk for r in rows]).update(item=item)
    return item


def build_ready_items(study: Study) -> int:
    """Build the items of every photo whose jobs have all succeeded but whose item is missing (a build
    that failed or never ran); returns how many were built. Photos with a failed job wait for a retry."""
    if study.joined:
        return 0  # frozen: nothing may change any more
    states: dict[int, set[str]] = defaultdict(set)
    for photo_id, status, item_id in JobItem.objects.filter(study=study).values_list(
            "photo_id", "job__status", "item_id"):
        states[photo_id].add("built" if item_id and status == SUCCEEDED else status)
    return sum(_build(study, photo_id) is not None for photo_id, seen in states.items()
               if seen <= {SUCCEEDED, "built"} and SUCCEEDED in seen)


def on_job_finished(sender, job: Job, **kwargs) -> None:
    """``webapp.jobs.signals.job_finished`` receiver: build the item this job completes, if it was its
    photo's last job, and tell the study's page that its engine items changed."""
    for row in JobItem.objects.filter(job_id=job.pk).select_related("study"):
        if job.status == SUCCEEDED and not row.study.joined:
            _build(row.study, row.photo_id)
        live.study_changed(row.study_id)
