"""Files that hold secrets (the secret key, the SQLite database with its tokens, the demo password)
are created readable by their owner only, before a byte is written: ``os.open`` with mode 0600,
never ``write_text`` followed by ``chmod``. No Django here: the settings module uses it."""

from __future__ import annotations

import os
import time
from pathlib import Path

PRIVATE = 0o600


def ensure_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; tighten an existing file to 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE)


def write_private(path: Path, text: str) -> bool:
    """Write ``text`` to a new file of mode 0600; False (nothing written) when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return True


def read_or_create_secret(path: Path, make) -> str:
    """The secret in ``path``, created with ``make()`` on first use (processes starting together
    agree on one: the first to create the file wins, the others wait for its content)."""
    write_private(path, make())
    ensure_private(path)
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.05)  # another process created the file a moment ago and is writing it
    raise RuntimeError(f"{path} is empty; delete it to have a new secret generated")
