"""What ``manage.py serve`` creates on a fresh DATA_DIR: the demo researcher account and sample
portraits shipped with scikit-image."""

from __future__ import annotations

import io
import secrets

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from skimage import data

from webapp.accounts.models import Role, User
from webapp.accounts.services import create_or_update_user
from webapp.photos.models import Photo
from webapp.photos.services import ingest_photo
from webapp.private_files import write_private


def _sample_photos() -> list[tuple[str, bytes]]:
    samples = []
    for name, loader in (("astronaut.png", data.astronaut), ("camera.png", data.camera)):
        array = np.asarray(loader())
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        samples.append((name, buffer.getvalue()))
    return samples


def ensure_demo_content() -> list[str]:
    """Idempotent: creates the demo researcher and sample photos once; returns lines to print."""
    lines = []
    password_file = settings.DATA_DIR / "demo_password"
    if not User.objects.filter(username="demo").exists():
        # Printed this once; later starts only say where it is kept (a file of mode 0600).
        password = secrets.token_urlsafe(12)
        create_or_update_user("demo", role=Role.RESEARCHER, password=password)
        password_file.unlink(missing_ok=True)
        write_private(password_file, password)
        lines.append(f"Sign in as demo / {password} (researcher; shown once, kept in {password_file})")
    elif password_file.exists():
        lines.append(f"Sign in as demo (researcher); the password is in {password_file}")
    demo = User.objects.get(username="demo")
    if not Photo.objects.exists():
        for name, payload in _sample_photos():
            ingest_photo(upload=SimpleUploadedFile(name, payload), owner=demo)
        lines.append("Added sample portraits to the photo library.")
    return lines
