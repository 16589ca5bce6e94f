"""Researcher setup (writes): create and edit a study, its methods and items (uploads, archives,
folders), open and close it, exclude participants. Reads are in ``studies.selectors``; what
participants do is in ``studies.participation``. Refusals are ``webapp.refusal`` kinds.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath

import numpy as np
from django.core.files.storage import default_storage
from django.db import transaction

from studies import images, inputs, live
from studies.models import Item, JobItem, Method, Output, Participant, Study
from webapp import safezip
from webapp.refusal import Conflict, Refusal

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
STUDY_FIELDS = {"title", "kind", "allow_tie", "rank_k", "instructions", "consent_text", "practice_trials",
                "participants_wanted", "recruit_margin", "trials_per_participant", "attention_every",
                "attention_threshold", "schedule", "min_width", "min_height", "min_view_ms", "speeder_ms",
                "straightline_share", "exclude_flagged", "completion_code", "prolific_redirect", "seed",
                "fullscreen", "gap_ms", "questionnaire"}
# The protocol: what participants are shown and asked, and who sees which trials. Frozen once
# somebody joined (what stays editable: the title, the recruitment margin, completion code and
# redirect, and how answers are judged: attention threshold, flags, automatic exclusion).
PROTOCOL_FIELDS = {"kind", "rank_k", "practice_trials", "participants_wanted", "trials_per_participant",
                   "attention_every", "schedule", "seed", "allow_tie", "instructions", "consent_text", "min_width",
                   "min_height", "min_view_ms", "fullscreen", "gap_ms", "questionnaire"}
PROLIFIC_CODE = ("Prolific expects one completion code for the whole study: keep the generated code (enter it "
                 "in Prolific's study settings) or paste Prolific's code into Completion code; per-participant "
                 "codes need the Prolific redirect turned off.")


def create_study(*, owner, title: str, **fields) -> Study:
    return _apply_fields(Study(owner=owner, title=(title or "Untitled study").strip()[:200]), fields)


def update_study(study: Study, **fields) -> Study:
    if study.joined:
        changed = [k for k in PROTOCOL_FIELDS & set(fields) if getattr(study, k) != fields[k]]
        if changed:
            raise Conflict(f"Participants have joined; the protocol ({', '.join(sorted(changed))}) is frozen.")
    return _apply_fields(study, fields)


def _apply_fields(study: Study, fields: dict) -> Study:
    for key, value in fields.items():
        if key in STUDY_FIELDS:
            setattr(study, key, value)
    if study.status == Study.Status.OPEN and study.prolific_redirect and not study.completion_code:
        raise Refusal(PROLIFIC_CODE)
    study.full_clean(exclude=["owner"])
    study.save()
    return study


def require_unfrozen(study: Study) -> None:
    """Methods and items may change only until the first participant joins."""
    if study.joined:
        raise Conflict("Participants have joined; methods and items are frozen.")


def add_method(study: Study, name: str) -> Method:
    require_unfrozen(study)
    name = (name or "").strip()[:100]
    if not name:
        raise Refusal("A method needs a name.")
    inputs.storable(name, "A method name")
    method, _ = Method.objects.get_or_create(study=study, name=name,
                                             defaults={"position": study.methods.count()})
    return method


def _put(field, rgb) -> None:
    data = images.content(rgb)
    field.save(data.name, data, save=False)


def add_item_arrays(study: Study, *, name: str, subset: str, input_rgb: np.ndarray,
                    outputs: dict[str, np.ndarray], seed: int = 0) -> Item:
    """Store an item from decoded float RGB arrays: every image normalised to the input's size."""
    require_unfrozen(study)
    if not outputs:
        raise Refusal(f"Item {name!r} has no method outputs.")
    inputs.storable(name, "An item name")
    inputs.storable(subset, "A subset name")
    base = images.fit_long_side(input_rgb)
    shape = base.shape[:2]
    with transaction.atomic():
        item, created = Item.objects.get_or_create(study=study, name=name[:200], defaults={"subset": subset[:100]})
        if not created:
            item.outputs.all().delete()
            item.subset = subset[:100]
        _put(item.input_image, base)
        item.save()
        for k, (method_name, rgb) in enumerate(sorted(outputs.items())):
            method = add_method(study, method_name)
            out = images.match_size(rgb, shape)
            row = Output(item=item, method=method)
            _put(row.image, out)
            _put(row.degraded, images.degrade(out, seed + k))
            row.save()
    return item


def add_item(study: Study, *, name: str, subset: str, input_bytes: bytes, outputs: dict[str, bytes]) -> Item:
    try:
        decoded_in = images.decode(input_bytes)
        decoded = {m: images.decode(b) for m, b in outputs.items()}
    except images.ImageProblem as exc:
        raise Refusal(f"Item {name!r}: {exc}") from exc
    return add_item_arrays(study, name=name, subset=subset, input_rgb=decoded_in, outputs=decoded)


def delete_item(item: Item) -> None:
    """Remove an item and its outputs (and their files) while no participant can have seen it: the study
    is not open and nobody has joined."""
    study = item.study
    if study.status == Study.Status.OPEN:
        raise Conflict("The study is open: participants may be shown this item. Close the study to delete items.")
    require_unfrozen(study)
    paths = [item.input_image.name] + [name for o in item.outputs.all() for name in (o.image.name, o.degraded.name)]
    with transaction.atomic():
        JobItem.objects.filter(item=item).delete()  # running the engines again rebuilds it
        item.delete()
    for path in paths:
        if path:
            transaction.on_commit(lambda path=path: default_storage.delete(path))
    live.study_changed(study.pk)


def _manifest_from_files(files: dict[str, bytes]) -> list[dict]:
    """Group archive members into items: a CSV manifest (item,subset,method,path; method "input" for
    the input) when one is present, else folders ``[subset/]item/input.*`` + ``item/<method>.*``."""
    csv_names = [n for n in files if n.lower().endswith("manifest.csv")]
    items: dict[tuple[str, str], dict] = {}
    if csv_names:
        prefix = str(PurePosixPath(csv_names[0]).parent)
        prefix = "" if prefix == "." else prefix + "/"
        try:
            text = files[csv_names[0]].decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refusal("manifest.csv is not UTF-8 text.") from None
        reader = csv.DictReader(io.StringIO(text))
        missing = {"item", "method", "path"} - {(k or "").strip().lower() for k in reader.fieldnames or ()}
        if missing:
            raise Refusal(f"manifest.csv needs the columns item, subset, method, path (missing: "
                          f"{', '.join(sorted(missing))}).")
        for row in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(k, str) and k}
            if not row.get("item") or not row.get("method"):
                raise Refusal("Every manifest.csv row needs an item and a method.")
            path = prefix + row.get("path", "")
            if path not in files:
                raise Refusal(f"manifest.csv names {row.get('path')!r}, which is not in the archive.")
            key = (row.get("subset", ""), row.get("item", ""))
            entry = items.setdefault(key, {"name": key[1], "subset": key[0], "input": None, "outputs": {}})
            if row.get("method", "").lower() == "input":
                entry["input"] = files[path]
            else:
                entry["outputs"][row["method"]] = files[path]
    else:
        for path, data in files.items():
            p = PurePosixPath(path)
            if p.suffix.lower() not in IMAGE_SUFFIXES or len(p.parts) < 2:
                continue
            item_name = p.parts[-2]
            subset = p.parts[-3] if len(p.parts) >= 3 else ""
            entry = items.setdefault((subset, item_name), {"name": item_name, "subset": subset, "input": None,
                                                           "outputs": {}})
            if p.stem.lower() == "input":
                entry["input"] = data
            else:
                entry["outputs"][p.stem] = data
    missing = [e["name"] for e in items.values() if e["input"] is None]
    if missing:
        raise Refusal(f"No input image for item(s): {', '.join(sorted(missing)[:5])}.")
    if not items:
        raise Refusal("The archive holds no items (expected item/input.* and item/<method>.*).")
    return list(items.values())


def import_archive(study: Study, data, max_members: int = 20000) -> int:
    """Bulk-add items from a zip archive (bytes, a path or a binary file); returns how many items were added."""
    require_unfrozen(study)
    # sizes and compression ratios are checked before anything is inflated (webapp/safezip.py)
    return import_files(study, safezip.read_members(data, max_members=max_members))


def import_directory(study: Study, root) -> int:
    """Bulk-add items from a folder laid out like an archive (hidden files and folders are skipped)."""
    require_unfrozen(study)
    root = Path(root)
    if not root.is_dir():
        raise Refusal(f"{root} is not a folder.")
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        if p.suffix.lower() in IMAGE_SUFFIXES or p.name.lower() == "manifest.csv":
            files[rel.as_posix()] = p.read_bytes()
    return import_files(study, files)


def import_files(study: Study, files: dict[str, bytes]) -> int:
    entries = _manifest_from_files(files)
    with transaction.atomic():
        for entry in entries:
            add_item(study, name=entry["name"], subset=entry["subset"], input_bytes=entry["input"],
                     outputs=entry["outputs"])
    return len(entries)


def set_status(study: Study, status: str) -> Study:
    if status not in Study.Status.values:
        raise Refusal(f"status must be one of {', '.join(Study.Status.values)}")
    if status == Study.Status.OPEN:
        if study.prolific_redirect and not study.completion_code:
            raise Refusal(PROLIFIC_CODE)
        methods = study.methods.count()
        if methods < 2:
            raise Refusal("A study needs at least two methods before it opens.")
        complete = Item.objects.filter(study=study).exclude(outputs__isnull=True).count()
        if not complete:
            raise Refusal("Add items (an input and one output per method) before opening the study.")
        lacking = [i.name for i in study.items.all() if i.outputs.count() != methods]
        if lacking:
            raise Refusal(f"Item(s) without an output for every method: {', '.join(lacking[:5])}.")
    study.status = status
    study.save(update_fields=["status"])
    return study


def set_exclusion(participant: Participant, excluded: bool | None) -> Participant:
    participant.excluded = excluded
    participant.save(update_fields=["excluded"])
    live.study_changed(participant.study_id)
    return participant
