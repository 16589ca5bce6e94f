from celery import shared_task

from webapp.jobs.execution import execute_job


@shared_task(name="jobs.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int):
    """Thin by design: everything worth testing lives in the engine and in jobs.services."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return execute_job(job_id, worker=self.request.hostname or "worker", redelivered=redelivered)
