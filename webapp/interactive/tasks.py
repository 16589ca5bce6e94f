from celery import shared_task

from webapp.interactive import worker_queue
from webapp.interactive.click_worker import execute_click, warm_session


@shared_task(name="interactive.run_click", bind=True, acks_late=False, ignore_result=True)
def run_click(self, session_id: str, seq: int, clicks: list, params: dict | None = None):
    """One click of an interactive session (latest wins; see webapp.interactive.click_worker)."""
    worker = worker_queue.local_hostname or self.request.hostname or "worker"
    return execute_click(session_id, seq, clicks, params, worker=worker)


@shared_task(name="interactive.warm_session", acks_late=False, ignore_result=True)
def warm(session_id: str):
    """Sent when a session opens: load (or prepare) its photo's state before the first click."""
    return warm_session(session_id)
