"""Reads for the model registry: every engine version with its card, run, metrics and the workers
that hold it; one run in detail; the provenance chain of a run.

Who sees what: a researcher sees the runs they started (a superuser every run) and the cards of
versions trained outside the platform (``python -m inference.train``), which have no run.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

import inference.engines as engines
from inference import modelstore
from studies.models import JobItem
from webapp.annotation.models import AnnotationProject, ReviewIssue
from webapp.jobs import unserved
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.serializers import output_urls
from webapp.refusal import NotFound
from webapp.registry import datasets, uploads
from webapp.registry.models import DatasetUpload, TrainingRun

SUMMARY_METRICS = ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "ssim", "glc")


def runs_for(user):
    base = TrainingRun.objects.select_related("project", "upload", "job")
    return base if user.is_superuser else base.filter(owner=user)


def run_for(user, pk: int) -> TrainingRun:
    run = runs_for(user).filter(pk=pk).first()
    if run is None:
        raise NotFound("No such model version, or it is not yours.")
    return run


def _workers() -> list[WorkerStatus]:
    recent = timezone.now() - timedelta(seconds=unserved.LIVE_SECONDS)
    return list(WorkerStatus.objects.filter(last_seen__gte=recent))


def _where(engine: str, version: str, workers: list[WorkerStatus]) -> dict:
    key = f"{engine}@{version}"
    return {"loaded_on": [w.name for w in workers if key in (w.loaded or [])],
            "available_on": [w.name for w in workers if version in (w.engines or {}).get(engine, [])]}


def _card(engine: str, version: str) -> dict | None:
    folder = modelstore.version_dir(settings.MODEL_DIR, engine, version)
    try:
        return modelstore.read_card(folder)
    except (OSError, ValueError):
        return None


def summary_metrics(metrics: dict) -> dict:
    """Per method (model, input, retouch.auto): the means and 95 % intervals, without per-image rows."""
    out = {}
    for method in ("model", "retouch.auto", "input"):
        r = metrics.get(method)
        if r:
            out[method] = {**{k: r.get(k) for k in SUMMARY_METRICS}, "ci95": r.get("ci95", {}),
                           "n_images": r.get("n_images"), "n_groups": r.get("n_groups")}
    if metrics.get("meta"):
        out["target_glc"] = metrics["meta"].get("target_glc")
    return out


def run_summary(run: TrainingRun, workers: list[WorkerStatus] | None = None) -> dict:
    workers = _workers() if workers is None else workers
    card = _card(run.engine, run.version) if run.status == TrainingRun.Status.READY else None
    return {
        "id": run.pk, "engine": run.engine, "version": run.version, "status": run.status,
        "dataset": datasets.describe(run),
        "expert": run.expert, "steps": run.steps, "step": run.step, "seed": run.seed, "arguments": run.arguments,
        "job": run.job_id, "jobs": run.jobs, "job_status": run.job.status, "error": run.error,
        "throughput": run.throughput, "metrics": summary_metrics(run.metrics),
        "card": card, "created_at": run.created_at, "finished_at": run.finished_at,
        "url": f"/models/{run.pk}/", **_where(run.engine, run.version, workers),
    }


def model_list(user) -> list[dict]:
    """Every trained version in MODEL_DIR plus the caller's runs in progress, newest first."""
    workers = _workers()
    runs = list(runs_for(user))
    listed = {(r.engine, r.version) for r in runs}
    others = TrainingRun.objects.exclude(pk__in=[r.pk for r in runs]).values_list("engine", "version")
    hidden = set(others)  # another researcher's runs: not shown
    rows = [run_summary(r, workers) for r in runs]
    for engine in engines.names():
        if not engines.is_learned(engine):
            continue
        for version in modelstore.versions(settings.MODEL_DIR, engine):
            if (engine, version) in listed or (engine, version) in hidden:
                continue
            card = _card(engine, version) or {}
            rows.append({"id": None, "engine": engine, "version": version, "status": "ready",
                         "dataset": {"root": card.get("data", {}).get("root"),
                                     "manifest_sha256": card.get("data", {}).get("manifest_sha256")},
                         "expert": card.get("data", {}).get("expert"), "steps": card.get("training", {}).get("steps"),
                         "seed": card.get("training", {}).get("seed"), "card": card,
                         "metrics": summary_metrics(card.get("held_out", {})), "created_at": card.get("created"),
                         **_where(engine, version, workers)})
    return rows


def run_detail(run: TrainingRun) -> dict:
    """The summary plus the loss curve, the per-image rows with preview URLs and the studies."""
    out = run_summary(run)
    previews: dict[str, dict] = {}
    for output in output_urls(run.job):
        name, _, kind = output["name"].rpartition(".")
        previews.setdefault(name, {})[kind] = output["url"]
    per_image = {}
    for method in ("model", "retouch.auto", "input"):
        for row in run.metrics.get(method, {}).get("per_image", []):
            entry = per_image.setdefault(row["name"], {"name": row["name"], "group": row["group"],
                                                       "photo": row.get("photo"), "previews": previews.get(row["name"], {})})
            entry[method] = {k: row.get(k) for k in ("psnr", "delta_e", "ssim")}
    out["loss"] = run.loss
    out["per_image"] = sorted(per_image.values(), key=lambda r: -(r.get("model", {}).get("delta_e") or 0))
    out["studies"] = [{"id": c.study_id, "title": c.study.title, "status": c.study.status, "opened_at": c.opened_at,
                       "setup_url": f"/studies/{c.study_id}/", "results_url": f"/studies/{c.study_id}/results/",
                       "methods": [m["name"] for m in c.methods]}
                      for c in run.comparisons.select_related("study")]
    return out


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _engine_version(run: TrainingRun, card: dict | None) -> dict:
    return {"run": run.pk, "engine": run.engine, "version": run.version, "status": run.status,
            "folder": str(modelstore.version_dir(settings.MODEL_DIR, run.engine, run.version)),
            "sha256": (card or {}).get("sha256"), "card_provenance": (card or {}).get("provenance"),
            "held_out": summary_metrics(run.metrics)}


def _jobs(run: TrainingRun, jobs: dict) -> list[dict]:
    return [{"id": pk, "status": jobs[pk].status, "worker": jobs[pk].worker, "attempts": jobs[pk].attempts,
             "started_at": _iso(jobs[pk].started_at), "finished_at": _iso(jobs[pk].finished_at),
             "run_seconds": jobs[pk].run_seconds, "params": jobs[pk].params} for pk in run.jobs if pk in jobs]


def provenance(run: TrainingRun) -> dict:
    """study → engine version → training job(s) → dataset version → assignments (experts, review
    rounds) → photos, as one JSON-ready object (the study export embeds it)."""
    card = _card(run.engine, run.version)
    jobs = {j.pk: j for j in Job.objects.filter(pk__in=run.jobs)}
    if run.upload_id is not None:  # trained on an uploaded zip: the chain stops at the upload
        return {"studies": [], "engine_version": _engine_version(run, card), "training_jobs": _jobs(run, jobs),
                "dataset": {**datasets.describe(run), "expert_slot": run.expert}, "assignments": [], "photos": []}
    assignments = list(run.project.assignments.filter(slot=run.expert)
                       .select_related("project_group", "expert", "reviewer").order_by("project_group__index"))
    issues = dict(ReviewIssue.objects.filter(assignment__in=assignments).values_list("assignment")
                  .annotate(n=Count("id")))
    photo_rows = datasets.rows(run)
    studies = []
    for c in run.comparisons.select_related("study"):
        built = JobItem.objects.filter(study=c.study, item__isnull=False).count()
        studies.append({"id": c.study_id, "title": c.study.title, "status": c.study.status,
                        "methods": c.methods, "photos": c.photos, "items_built_from_jobs": built,
                        "results_url": f"/studies/{c.study_id}/results/"})
    return {
        "studies": studies,
        "engine_version": _engine_version(run, card),
        "training_jobs": _jobs(run, jobs),
        "dataset": {"project": run.project_id, "title": run.project.title, "kind": run.project.kind,
                    "dataset_version": run.dataset_version, "current_version": run.project.dataset_version,
                    "frozen_at": _iso(run.project.frozen_at), "manifest_sha256": run.manifest_sha256 or None,
                    "expert_slot": run.expert, "split_seed": run.project.split_seed,
                    "val_fraction": run.project.val_fraction},
        "assignments": [{"id": a.pk, "group": a.project_group.index, "slot": a.slot, "state": a.state,
                         "expert": a.expert.username if a.expert else None,
                         "reviewer": a.reviewer.username if a.reviewer else None,
                         "review_rounds": a.round, "first_pass": a.first_pass, "issues": issues.get(a.pk, 0)}
                        for a in assignments],
        "photos": [{"id": int(r["photo_id"]), "name": f"{r['group']}_{r['idx']}", "original_name": r["original_name"],
                    "group": int(r["group"]), "split": r["split"]} for r in photo_rows],
    }


def frozen_datasets(user) -> list[dict]:
    """The caller's frozen retouching projects (what the training form offers)."""
    scope = AnnotationProject.objects.all() if user.is_superuser else AnnotationProject.objects.filter(owner=user)
    return [{"id": p.pk, "title": p.title, "dataset_version": p.dataset_version, "slots": p.slots,
             "frozen_at": p.frozen_at}
            for p in scope.filter(dataset_version__gte=1, kind="retouch").order_by("-frozen_at")]


def dataset_uploads(user) -> list[dict]:
    """The caller's uploaded PPR10K-layout zips (the training form's other choice)."""
    scope = DatasetUpload.objects.all() if user.is_superuser else DatasetUpload.objects.filter(owner=user)
    return [uploads.summary(u) for u in scope]
