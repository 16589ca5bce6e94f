from django.core.files.storage import default_storage
from rest_framework import serializers

from webapp.jobs import unserved
from webapp.jobs.models import Job


def output_urls(job: Job) -> list[dict]:
    return [{"name": o["name"], "url": default_storage.url(o["path"])} for o in job.outputs or []]


def timings(job: Job) -> dict:
    queue_wait = run = total = None
    if job.started_at:
        queue_wait = (job.started_at - job.created_at).total_seconds()
    if job.finished_at:
        total = (job.finished_at - job.created_at).total_seconds()
    if job.run_seconds is not None:
        run = job.run_seconds
    return {"queue_wait_s": queue_wait, "run_s": run, "total_s": total}


def job_event(job: Job) -> dict:
    """The channel-layer message; the consumer forwards it as ``{"type": "job", ...}``."""
    return {"type": "job.event", "id": job.pk, "status": job.status, "progress": round(job.progress, 4),
            "outputs": output_urls(job), "error": job.error, "engine": job.engine}


class JobSerializer(serializers.ModelSerializer):
    outputs = serializers.SerializerMethodField()
    timings = serializers.SerializerMethodField()
    waiting = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "engine", "engine_version", "status", "progress", "error", "inputs", "params",
                  "output_format", "attempts", "timings", "outputs", "info", "created_at", "started_at",
                  "finished_at", "waiting"]

    def get_outputs(self, obj) -> list[dict]:
        return output_urls(obj)

    def get_waiting(self, obj) -> str:
        """Why a queued job has not started, e.g. "queued — no worker is serving queue gpu"; "" otherwise."""
        return unserved.waiting(obj, self.context)

    def get_timings(self, obj) -> dict:
        return timings(obj)


class JobCreateSerializer(serializers.Serializer):
    engine = serializers.CharField()
    inputs = serializers.JSONField()
    params = serializers.JSONField(required=False, default=dict)
    version = serializers.CharField(required=False, allow_null=True, default=None, max_length=64,
                                    help_text="Learned engines: the trained model version to run "
                                              "(default: the newest in MODEL_DIR).")
    output_format = serializers.JSONField(required=False, default="png",
                                          help_text="Image outputs as png (lossless, default), jpeg (quality 95) "
                                                    "or webp (quality 92); masks are always greyscale PNG.")
