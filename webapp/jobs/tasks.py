from celery import shared_task

from webapp.jobs.execution import execute_job


@shared_task(name="jobs.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int):
    """Thin by design: the work is in jobs.execution. ``jobs.services`` sends it by this name."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return execute_job(job_id, worker=self.request.hostname or "worker", redelivered=redelivered)
