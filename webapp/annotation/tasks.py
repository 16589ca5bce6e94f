from celery import shared_task

from webapp.annotation.services import run_export


@shared_task(name="annotation.export_dataset")
def export_dataset(export_id: int) -> str:
    """Thin by design: the work is ``services.run_export``, which sends it by this name."""
    return run_export(export_id)
