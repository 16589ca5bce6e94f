"""Read a zip archive's files without letting it inflate past its limits.

Every member's declared size and compression ratio are checked before anything is inflated, and
the inflated bytes are counted while they stream (a member that lies about its size is stopped
at its declared size plus one byte). Limits: ``ARCHIVE_MAX_TOTAL_BYTES`` for all members together,
``UPLOAD_MAX_BYTES`` for one member, ``ARCHIVE_MAX_RATIO`` (inflated : stored) for one member.
Over a size limit is a ``TooLarge`` (413), a broken or bomb-like archive a ``Refusal`` (400).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from django.conf import settings

from webapp.refusal import Refusal, TooLarge

CHUNK = 1 << 20
RATIO_FLOOR_BYTES = 1 << 20  # members smaller than this may compress as well as they like


def _open(source) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Refusal(f"That is not a zip archive ({exc}).") from None


def _check(member: zipfile.ZipInfo, total: int) -> None:
    name = member.filename[:200]
    if member.file_size > settings.UPLOAD_MAX_BYTES:
        raise TooLarge(f"{name} inflates to {member.file_size / 2**20:,.0f} MiB; one file may be at most "
                       f"{settings.UPLOAD_MAX_BYTES / 2**20:,.0f} MiB.")
    if total > settings.ARCHIVE_MAX_TOTAL_BYTES:
        raise TooLarge(f"The archive inflates to more than {settings.ARCHIVE_MAX_TOTAL_BYTES / 2**20:,.0f} MiB.")
    if member.file_size > RATIO_FLOOR_BYTES and \
            member.file_size > settings.ARCHIVE_MAX_RATIO * max(member.compress_size, 1):
        raise Refusal(f"{name} is compressed {member.file_size / max(member.compress_size, 1):,.0f} : 1, "
                      f"more than images ever are (limit {settings.ARCHIVE_MAX_RATIO:g} : 1); "
                      "the archive is refused.")


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    out = bytearray()
    try:
        with archive.open(member) as fh:
            while chunk := fh.read(CHUNK):
                out += chunk
                if len(out) > member.file_size:
                    raise Refusal(f"{member.filename[:200]} holds more than its declared size.")
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise Refusal(f"{member.filename[:200]} cannot be read from the archive ({exc}).") from None
    return bytes(out)


def read_members(source, *, max_members: int = 20000, keep=None) -> dict[str, bytes]:
    """{name: bytes} for the archive's files (``source``: bytes, a path or a binary file).

    Folders, ``__MACOSX``, hidden files and names with ``..`` are skipped, as is anything ``keep(name)``
    rejects; every member is checked before any is inflated."""
    archive = _open(source)
    with archive:
        members = []
        for member in archive.infolist():
            name = member.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if member.is_dir() or "__MACOSX" in parts or ".." in parts or not parts or parts[-1].startswith("."):
                continue
            if keep is None or keep(name):
                members.append((name, member))
        if len(members) > max_members:
            raise Refusal(f"The archive has more than {max_members} files.")
        total = 0
        for _, member in members:
            total += member.file_size
            _check(member, total)
        return {name: _read(archive, member) for name, member in members}
