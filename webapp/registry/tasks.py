from celery import shared_task

from webapp.registry.execution import run_training

TRAIN_MODEL = "registry.train_model"  # sent by name by webapp.jobs.services.enqueue (registered in apps.py)


@shared_task(name=TRAIN_MODEL, bind=True, acks_late=True, reject_on_worker_lost=True)
def train_model(self, job_id: int):
    """Thin by design: the work is in registry.execution."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return run_training(job_id, worker=self.request.hostname or "worker", redelivered=redelivered)
