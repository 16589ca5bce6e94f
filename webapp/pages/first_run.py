"""What ``manage.py serve`` creates on a fresh DATA_DIR: the demo researcher account and the sample
portraits (webapp/samples: scikit-image's and Matplotlib's public-domain photos, and derived ones)."""

from __future__ import annotations

import secrets

from django.conf import settings

from webapp.accounts.models import Role, User
from webapp.accounts.services import create_or_update_user
from webapp.private_files import write_private
from webapp.samples.catalogue import SAMPLES
from webapp.samples.services import ensure_samples


def _sample_photos() -> tuple:
    """The sample portraits to store (webapp/samples/catalogue.py)."""
    return SAMPLES


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
    added = ensure_samples(tuple(_sample_photos()))
    if added:
        lines.append(f"Added {added} sample portraits (the try pages offer them to everyone, guests included).")
    return lines
