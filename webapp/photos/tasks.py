from celery import shared_task

from webapp.photos.prepared import prepare_photo


@shared_task(name="photos.prepare_interactive", ignore_result=True)
def prepare_interactive(photo_id: int, engine_names: list[str]) -> list[str]:
    """Prepare a photo for interactive engines in the background (see webapp.photos.prepared)."""
    return prepare_photo(photo_id, engine_names)
