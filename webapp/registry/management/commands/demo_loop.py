"""``python manage.py demo_loop --seed S``: the whole research loop on the demo annotation data.

demo annotation project (frozen) → training job (tiny step count) → evaluation on the val split →
"Compare in a study" (jobs per val photo × method; items built as they finish; the study opens) →
simulated participants → Bradley–Terry ranking. Prints the study id, the ranking and the timings.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from studies import selectors as study_selectors
from webapp.annotation import demo
from webapp.refusal import Refusal
from webapp.registry import services, simulation
from webapp.registry.models import StudyComparison, TrainingRun


def _wait(what: str, done, timeout: float, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = done()
        if value:
            return value
        time.sleep(poll)
    raise CommandError(f"{what} did not happen within {timeout:.0f} s (is a worker serving the gpu and cpu queues?)")


class Command(BaseCommand):
    help = ("Run the closed loop on the demo annotation data: train a model for a few steps as a job, evaluate "
            "it, compare it in a pairwise study with retouch.auto, the expert's targets and the input, let "
            "simulated participants answer, and print the study id and the Bradley–Terry ranking.")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=0, help="seed of the demo data, training and participants")
        parser.add_argument("--model", default="retouch.lut", help="the model to train (default: retouch.lut)")
        parser.add_argument("--steps", type=int, default=30, help="training steps (default: 30)")
        parser.add_argument("--groups", type=int, default=3, help="photo groups of the demo project (default: 3)")
        parser.add_argument("--photos-per-group", type=int, default=3, help="photos per group (default: 3)")
        parser.add_argument("--participants", type=int, default=8, help="simulated participants (default: 8)")
        parser.add_argument("--owner", default="demo-loop", help="researcher who owns everything (default: demo-loop)")
        parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each stage")

    def handle(self, seed, model, steps, groups, photos_per_group, participants, owner, timeout, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if settings.EMBEDDED:  # no broker configured: run the jobs on a worker inside this process
            from webapp.jobs.embedded_worker import start_embedded_worker

            start_embedded_worker(("gpu", "cpu"), concurrency=2, name=f"demo-loop-{seed}@embedded")
        out = self.stdout.write
        t0 = time.perf_counter()
        try:
            project = demo.build(groups=groups, per_group=photos_per_group, seed=seed, owner=owner)
            out(f"dataset: annotation project {project.pk}, dataset version {project.dataset_version} "
                f"({time.perf_counter() - t0:.1f} s)")
            t_train = time.perf_counter()
            run = services.start_training(owner=project.owner, dataset=project.pk, model=model, expert="a",
                                          steps=steps, seed=seed)
        except Refusal as refusal:
            raise CommandError(refusal.message) from None
        out(f"training: {run.engine} v{run.version}, job {run.job_id}, {steps} steps")
        run = _wait("training", lambda: (r := TrainingRun.objects.get(pk=run.pk)).status in (
            TrainingRun.Status.READY, TrainingRun.Status.FAILED, TrainingRun.Status.STOPPED) and r, timeout)
        if run.status != TrainingRun.Status.READY:
            raise CommandError(f"training {run.status}: {run.error}")
        t_trained = time.perf_counter()
        tp = run.throughput
        model_metrics = run.metrics.get("model", {})
        out(f"trained and evaluated in {t_trained - t_train:.1f} s: {tp.get('steps_per_s')} steps/s, "
            f"{tp.get('images_per_s')} images/s on {tp.get('device')}; val PSNR {model_metrics.get('psnr', float('nan')):.2f} dB, "
            f"ΔE {model_metrics.get('delta_e', float('nan')):.2f} (input ΔE {run.metrics.get('input', {}).get('delta_e', float('nan')):.2f})")
        comparison = services.compare_in_study(run=run, owner=project.owner, participants=participants)
        out(f"study {comparison.study_id}: {len(comparison.photos)} val photo(s) × {len(comparison.methods)} methods")
        _wait("the study opening", lambda: StudyComparison.objects.get(pk=comparison.pk).opened_at, timeout)
        t_open = time.perf_counter()
        out(f"study {comparison.study_id} open {t_open - t_train:.1f} s after training started")
        simulation.answer(comparison, participants, seed)
        res = study_selectors.results(comparison.study, bootstrap=200, seed=seed)
        scores = (res.get("bradley_terry") or {}).get("score", {})
        out("ranking (Bradley–Terry score, simulated participants prefer results closer to the expert):")
        for rank, name in enumerate(sorted(scores, key=lambda n: -scores[n]), 1):
            out(f"  {rank}. {name:<28} {scores[name]:.3f}")
        out(f"total {time.perf_counter() - t0:.1f} s")
        out(f"study {comparison.study_id}")
