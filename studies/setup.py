"""Writes for user studies (HackSoft style: views stay thin, selectors read)."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import secrets
import zipfile
from pathlib import PurePosixPath

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from studies import images, live, scheduling
from studies.models import Item, Method, Output, Participant, Response, Study, Trial, TrialImage

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
STUDY_FIELDS = {"title", "kind", "allow_tie", "rank_k", "instructions", "consent_text", "practice_trials",
                "participants_wanted", "trials_per_participant", "attention_every", "attention_threshold",
                "schedule", "min_width", "min_height", "completion_code", "prolific_redirect", "seed"}
# Fields that change who sees what: frozen once somebody joined.
DESIGN_FIELDS = {"kind", "rank_k", "practice_trials", "participants_wanted", "trials_per_participant",
                 "attention_every", "schedule", "seed"}
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc="


UNAUTHORISED = "Send the X-Participant-Token header you received when joining."


class StudyError(Exception):
    """A refusal the API shows as {"detail": message} with ``status``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ----------------------------------------------------------------------------- researcher side


def create_study(*, owner, title: str, **fields) -> Study:
    return _apply_fields(Study(owner=owner, title=(title or "Untitled study").strip()[:200]), fields)


def update_study(study: Study, **fields) -> Study:
    if study.joined and DESIGN_FIELDS & set(fields):
        changed = [k for k in DESIGN_FIELDS & set(fields) if getattr(study, k) != fields[k]]
        if changed:
            raise StudyError(f"Participants have joined; the design ({', '.join(sorted(changed))}) is frozen.",
                             409)
    return _apply_fields(study, fields)


def _apply_fields(study: Study, fields: dict) -> Study:
    for key, value in fields.items():
        if key in STUDY_FIELDS:
            setattr(study, key, value)
    study.full_clean(exclude=["owner"])
    study.save()
    return study


def _frozen(study: Study) -> None:
    if study.joined:
        raise StudyError("Participants have joined; methods and items are frozen.", 409)


def add_method(study: Study, name: str) -> Method:
    _frozen(study)
    name = (name or "").strip()[:100]
    if not name:
        raise StudyError("A method needs a name.")
    method, _ = Method.objects.get_or_create(study=study, name=name,
                                             defaults={"position": study.methods.count()})
    return method


def _put(field, rgb) -> None:
    data = images.content(rgb)
    field.save(data.name, data, save=False)


def add_item_arrays(study: Study, *, name: str, subset: str, input_rgb: np.ndarray,
                    outputs: dict[str, np.ndarray], seed: int = 0) -> Item:
    """Store an item from decoded float RGB arrays: every image normalised to the input's size."""
    _frozen(study)
    if not outputs:
        raise StudyError(f"Item {name!r} has no method outputs.")
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
        raise StudyError(f"Item {name!r}: {exc}") from exc
    return add_item_arrays(study, name=name, subset=subset, input_rgb=decoded_in, outputs=decoded)


def _manifest_from_files(files: dict[str, bytes]) -> list[dict]:
    """Group archive members into items: a CSV manifest (item,subset,method,path; method "input" for
    the input) when one is present, else folders ``[subset/]item/input.*`` + ``item/<method>.*``."""
    csv_names = [n for n in files if n.lower().endswith("manifest.csv")]
    items: dict[tuple[str, str], dict] = {}
    if csv_names:
        prefix = str(PurePosixPath(csv_names[0]).parent)
        prefix = "" if prefix == "." else prefix + "/"
        reader = csv.DictReader(io.StringIO(files[csv_names[0]].decode("utf-8-sig")))
        for row in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            path = prefix + row.get("path", "")
            if path not in files:
                raise StudyError(f"manifest.csv names {row.get('path')!r}, which is not in the archive.")
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
        raise StudyError(f"No input image for item(s): {', '.join(sorted(missing)[:5])}.")
    if not items:
        raise StudyError("The archive holds no items (expected item/input.* and item/<method>.*).")
    return list(items.values())


def import_archive(study: Study, data, max_members: int = 20000) -> int:
    """Bulk-add items from a zip archive (bytes, a path or a binary file); returns how many items were added."""
    _frozen(study)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data)
    except zipfile.BadZipFile as exc:
        raise StudyError("That is not a zip archive.") from exc
    members = [m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
    if len(members) > max_members:
        raise StudyError(f"The archive has more than {max_members} files.")
    files = {}
    for m in members:
        name = m.filename.replace("\\", "/")
        if ".." in PurePosixPath(name).parts or PurePosixPath(name).name.startswith("."):
            continue
        files[name] = archive.read(m)
    return import_files(study, files)


def import_directory(study: Study, root) -> int:
    """Bulk-add items from a folder laid out like an archive (hidden files and folders are skipped)."""
    from pathlib import Path

    _frozen(study)
    root = Path(root)
    if not root.is_dir():
        raise StudyError(f"{root} is not a folder.")
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
        raise StudyError(f"status must be one of {', '.join(Study.Status.values)}")
    if status == Study.Status.OPEN:
        methods = study.methods.count()
        if methods < 2:
            raise StudyError("A study needs at least two methods before it opens.")
        complete = Item.objects.filter(study=study).exclude(outputs__isnull=True).count()
        if not complete:
            raise StudyError("Add items (an input and one output per method) before opening the study.")
        lacking = [i.name for i in study.items.all() if i.outputs.count() != methods]
        if lacking:
            raise StudyError(f"Item(s) without an output for every method: {', '.join(lacking[:5])}.")
    study.status = status
    study.save(update_fields=["status"])
    return study


def set_exclusion(participant: Participant, excluded: bool | None) -> Participant:
    participant.excluded = excluded
    participant.save(update_fields=["excluded"])
    live.study_changed(participant.study_id)
    return participant


# ----------------------------------------------------------------------------- participant side


def _outputs_map(study: Study) -> dict[tuple[int, int], tuple[int, str, str]]:
    return {(o.item_id, o.method_id): (o.id, o.image.name, o.degraded.name)
            for o in Output.objects.filter(item__study=study)}


def _make_trials(study: Study, participant: Participant, specs: list[dict], start: int, *, practice=False):
    outs = _outputs_map(study)
    items = {i.id: i.input_image.name for i in study.items.all()}
    trials, image_rows = [], []
    for n, spec in enumerate(specs):
        item = spec["item"]
        trial = Trial(study=study, participant=participant, position=start + n, item_id=item,
                      practice=practice, attention=spec.get("attention", False))
        rows = [("input", items[item])]
        if "candidates" in spec:
            ids = []
            for k, cand in enumerate(spec["candidates"]):
                if isinstance(cand, tuple):  # (DEGRADED, copy of method)
                    oid, _, path = outs[(item, cand[1])]
                    trial.degraded_side = str(k)
                else:
                    oid, path, _ = outs[(item, cand)]
                ids.append(oid)
                rows.append((f"c{k}", path))
            trial.candidates = ids
        else:
            left, right = spec["left"], spec["right"]
            if left == scheduling.DEGRADED or right == scheduling.DEGRADED:
                real = right if left == scheduling.DEGRADED else left
                trial.degraded_side = "left" if left == scheduling.DEGRADED else "right"
                oid, image, degraded = outs[(item, real)]
                trial.left_id = trial.right_id = oid
                rows += [("left", degraded if trial.degraded_side == "left" else image),
                         ("right", degraded if trial.degraded_side == "right" else image)]
            else:
                trial.left_id, lp, _ = outs[(item, left)]
                trial.right_id, rp, _ = outs[(item, right)]
                rows += [("left", lp), ("right", rp)]
        trials.append(trial)
        image_rows.append(rows)
    Trial.objects.bulk_create(trials)
    TrialImage.objects.bulk_create([TrialImage(trial=t, role=role, path=path)
                                    for t, rows in zip(trials, image_rows, strict=True) for role, path in rows])
    return trials


def join(study: Study, *, consent: bool, params: dict | None = None, screen: dict | None = None):
    """A new participant: returns (participant, raw token). Trials are dealt out at once (balanced)."""
    if not consent:
        raise StudyError("Consent is required to take part.", 400)
    if study.status != Study.Status.OPEN:
        raise StudyError("This study is not open.", 403)
    params = {str(k)[:64]: str(v)[:256] for k, v in (params or {}).items()} if isinstance(params, dict) else {}
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        slot = locked.joined
        locked.joined = slot + 1
        locked.save(update_fields=["joined"])
        participant = Participant.objects.create(
            study=locked, token_hash=hash_token(token), slot=slot, label=f"P{slot + 1:03d}", params=params,
            screen=screen if isinstance(screen, dict) else {}, consent_at=timezone.now(),
            completion_code=locked.completion_code or secrets.token_hex(4).upper())
        methods = list(locked.methods.values_list("id", flat=True))
        items = list(locked.items.values_list("id", flat=True))
        practice = scheduling.practice_block(methods, items, locked.practice_trials, locked.kind, locked.rank_k,
                                             locked.seed, slot)
        _make_trials(locked, participant, practice, 0, practice=True)
        if locked.kind == Study.Kind.RANKING:
            specs = scheduling.ranking_block(methods, items, slot, locked.trials_per_participant, locked.rank_k,
                                             locked.attention_every, locked.seed)
        elif locked.schedule == Study.Schedule.ADAPTIVE:
            specs = []  # dealt one at a time in next_trial
        else:
            specs = scheduling.pairwise_block(methods, items, slot, locked.participants_wanted,
                                              locked.trials_per_participant, locked.attention_every, locked.seed)
        _make_trials(locked, participant, specs, len(practice))
    live.study_changed(study.pk)
    return participant, token


def save_screen(participant: Participant, screen: dict) -> None:
    participant.screen = {str(k)[:32]: v for k, v in screen.items() if isinstance(v, str | int | float | bool)}
    participant.save(update_fields=["screen"])


def _adaptive_next(participant: Participant) -> Trial | None:
    from studies.selectors import count_matrix

    study = participant.study
    made = participant.trials.filter(practice=False).count()
    every = study.attention_every
    regular = made - (made // (every + 1) if every else 0)
    if regular >= study.trials_per_participant and not (every and (made + 1) % (every + 1) == 0):
        return None
    methods = list(study.methods.values_list("id", flat=True))
    items = list(study.items.values_list("id", flat=True))
    rng = np.random.default_rng([study.seed, participant.slot, made])
    if every and (made + 1) % (every + 1) == 0:
        real = methods[int(rng.integers(len(methods)))]
        side = rng.random() < 0.5
        spec = dict(item=items[int(rng.integers(len(items)))], attention=True,
                    left=scheduling.DEGRADED if side else real, right=real if side else scheduling.DEGRADED)
    else:
        counts, item_counts = count_matrix(study, methods)
        spec = scheduling.adaptive_pair(counts, methods, item_counts, items, rng)
    start = participant.trials.count()
    with transaction.atomic():  # the trial and its image tokens together, or neither
        return _make_trials(study, participant, [spec], start)[0]


def next_trial(participant: Participant) -> Trial | None:
    trial = (Trial.objects.filter(participant=participant, response__isnull=True).order_by("position").first())
    if trial is None and participant.study.schedule == Study.Schedule.ADAPTIVE \
            and participant.study.kind == Study.Kind.PAIRWISE:
        trial = _adaptive_next(participant)
    if trial is None and participant.completed_at is None:
        participant.completed_at = timezone.now()
        participant.save(update_fields=["completed_at"])
        live.study_changed(participant.study_id)
    return trial


def completion(participant: Participant) -> dict:
    out = {"done": True, "completion_code": participant.completion_code}
    if participant.params.get("PROLIFIC_PID") and participant.study.prolific_redirect:
        out["redirect_url"] = PROLIFIC_COMPLETE + participant.completion_code
    return out


def _validate_answer(kind: str, allow_tie: bool, n_candidates: int, body: dict) -> tuple[str, list | None]:
    if kind == Study.Kind.RANKING:
        order = body.get("order")
        if not isinstance(order, list) or any(type(o) is not int for o in order) \
                or sorted(order) != list(range(n_candidates)):
            raise StudyError(f"order must list each candidate index 0..{n_candidates - 1} once, best first.")
        return "", order
    choice = body.get("choice")
    allowed = ("left", "right", "tie") if allow_tie else ("left", "right")
    if choice not in allowed:
        raise StudyError(f"choice must be one of {', '.join(allowed)}.")
    return choice, None


def _answer_fields(body: dict) -> tuple[str, int]:
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 1 <= len(key) <= 80:
        raise StudyError("idempotency_key must be a string of 1 to 80 characters.")
    elapsed = body.get("elapsed_ms", 0)
    if elapsed is None:
        elapsed = 0
    if isinstance(elapsed, bool) or not isinstance(elapsed, int | float) or elapsed != elapsed:
        raise StudyError("elapsed_ms must be a number of milliseconds.")
    return key, int(max(0, min(elapsed, 2**31 - 1)))


_INSERT_FIELDS = ("trial", "participant", "study", "idempotency_key", "choice", "order", "elapsed_ms", "created_at")


@functools.cache
def _insert_sql(vendor: str) -> str:
    from django.db import connection

    q = connection.ops.quote_name
    columns = ", ".join(q(Response._meta.get_field(f).column) for f in _INSERT_FIELDS)
    return f"INSERT INTO {q(Response._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(_INSERT_FIELDS))})"


def _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed) -> None:
    """``Response(...).save(force_insert=True)`` written out: one INSERT, values prepared by the model's
    own fields (JSON, aware datetime), without the ORM's per-call query compilation."""
    from django.db import connection

    meta = Response._meta
    values = (trial_id, participant_id, study_id, key, choice, order, elapsed, timezone.now())
    params = [meta.get_field(f).get_db_prep_save(v, connection) for f, v in zip(_INSERT_FIELDS, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), params)


def record_vote(trial_public_id: str, token_hash: str, body: dict) -> tuple[int, dict]:
    """The vote hot path: one SELECT (the trial, joined with the token's participant and the study's
    answer rules) and one INSERT, whose unique constraints decide. Returns (status, JSON body):
    201 stored now, 200 the same answer was already stored (a retry: nothing new); raises StudyError
    401 unknown token, 404 not this participant's trial, 400 bad answer, 409 a different answer to an
    answered trial or an idempotency key reused for another trial."""
    from studies import selectors

    target = selectors.vote_target(trial_public_id, token_hash)
    if target is None:
        if not Participant.objects.filter(token_hash=token_hash).exists():
            raise StudyError(UNAUTHORISED, 401)
        raise StudyError("No such trial for you.", 404)
    key, elapsed = _answer_fields(body)
    trial_id, participant_id, study_id, kind, allow_tie, candidates = target
    choice, order = _validate_answer(kind, allow_tie, len(candidates or ()), body)
    try:
        if transaction.get_connection().in_atomic_block:  # a test's or a caller's transaction
            with transaction.atomic():
                _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed)
        else:  # autocommit: the INSERT is its own transaction
            _insert_response(trial_id, participant_id, study_id, key, choice, order, elapsed)
    except IntegrityError:
        existing = Response.objects.filter(trial_id=trial_id).values_list("choice", "order").first()
        if existing is None:  # the key was used for another trial
            raise StudyError("This idempotency_key was already used for another trial.", 409) from None
        if existing == (choice, order):
            return 200, {"stored": False}
        raise StudyError("This trial was already answered differently.", 409) from None
    live.vote_arrived(study_id)
    return 201, {"stored": True}
