"""Guests of "Try it online": one click makes a short-lived user, limits keep it cheap, a purge ends it.

* ``create_guest`` — a user of role ``guest`` with an unusable password and a ``GuestPass`` that
  expires ``GUEST_RETENTION_HOURS`` later, signed in by the session cookie. Per client address at most
  ``GUEST_CREATION_RATE_PER_IP``; site-wide at most ``GUEST_MAX_ACTIVE`` guests alive at once.
* ``check_upload`` / ``record_upload`` / ``check_run`` / ``check_click`` — per-guest rates
  (``GUEST_UPLOAD_RATE``, ``GUEST_JOB_RATE``, ``GUEST_CLICK_RATE``), queued + running jobs
  (``GUEST_MAX_ACTIVE_JOBS``), stored bytes (``GUEST_STORAGE_MB``) and engines (``GUEST_ENGINES``).
  Members pass every check untouched. A refusal is a ``TooMany`` (429 with Retry-After) or a
  ``Forbidden`` (what guests may never do).
* ``purge_expired`` — deletes expired guests with their photos, masks, jobs, interactive sessions and
  every file those own (``manage.py purge_guests``; ``purge_if_due`` from every worker's heartbeat,
  so embedded mode — whose worker runs inside ``serve`` — and distributed mode both purge without
  another process). Signing out deletes a guest at once (``webapp.accounts.signals``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user, login
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from webapp.accounts.models import GuestPass, Role, User
from webapp.accounts.permissions import is_guest
from webapp.accounts.throttling import address_digest, hit
from webapp.refusal import Conflict, Forbidden, TooMany

log = logging.getLogger("portrait_lab.guests")
PURGE_DUE_KEY = "guests:purge-due"


def retention_hours() -> float:
    return settings.GUEST_RETENTION_HOURS


def retention_text() -> str:
    """"24 hours", "90 minutes": how long guests' uploads are kept, for pages and messages."""
    hours = retention_hours()
    if hours < 1:
        return f"{round(hours * 60)} minutes"
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def limits() -> dict:
    """The limits a guest works within, as the API reports them."""
    return {"retention_hours": retention_hours(), "uploads": settings.GUEST_UPLOAD_RATE,
            "jobs": settings.GUEST_JOB_RATE, "clicks": settings.GUEST_CLICK_RATE,
            "active_jobs": settings.GUEST_MAX_ACTIVE_JOBS, "storage_mb": settings.GUEST_STORAGE_MB,
            "engines": list(settings.GUEST_ENGINES)}


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


# ---------------------------------------------------------------- creating a guest

def create_guest(request) -> tuple[User, bool]:
    """Sign ``request`` in as a new guest → (user, True); a guest already signed in → (it, False)."""
    if not settings.GUEST_ACCESS:
        raise Forbidden("Guest access is turned off on this server; sign in with a lab account.")
    current = get_user(request)  # from the session: an API view that authenticates nobody reset .user
    if getattr(current, "is_authenticated", False):
        if is_guest(current):
            return current, False
        raise Conflict(f"You are signed in as {current.username}; sign out first to continue as a guest.")
    address = address_digest(request)
    wait = hit(f"guest-create:{address}", settings.GUEST_CREATION_RATE_PER_IP)
    if wait is not None:
        raise TooMany("Too many guest sessions were started from your network in the last hour. "
                      f"Try again in {_wait_text(wait)}, or sign in with a lab account.", retry_after=wait)
    now = timezone.now()
    if settings.GUEST_MAX_ACTIVE and GuestPass.objects.filter(expires_at__gt=now).count() >= settings.GUEST_MAX_ACTIVE:
        raise TooMany("Too many guests are trying the platform right now. Please try again in a few minutes.",
                      retry_after=300)
    with transaction.atomic():
        user = User(username=f"guest-{secrets.token_hex(5)}", role=Role.GUEST)
        user.set_unusable_password()
        user.save()
        GuestPass.objects.create(user=user, address_digest=address,
                                 expires_at=now + timedelta(hours=retention_hours()))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.set_expiry(int(retention_hours() * 3600))  # the cookie ends with the guest
    return user, True


def guest_pass(user) -> GuestPass | None:
    if not is_guest(user):
        return None
    return GuestPass.objects.filter(user=user).first()


def describe(user) -> dict:
    """What ``/api/auth/guest/`` and ``/api/me/`` tell a guest about itself."""
    gp = guest_pass(user)
    if gp is None:
        return {}
    return {"expires_at": gp.expires_at.isoformat(), "stored_bytes": gp.stored_bytes, "limits": limits()}


# ---------------------------------------------------------------- limits

def _expired(user) -> GuestPass:
    gp = guest_pass(user)
    if gp is None or gp.expires_at <= timezone.now():
        raise Forbidden("Your guest session has ended and its uploads are being deleted. "
                        "Start a new guest session on the Try it online page.")
    return gp


def check_upload(user, size: int) -> None:
    """Before storing ``size`` bytes (a photo, a mask or a composite) for ``user``."""
    if not is_guest(user):
        return
    gp = _expired(user)
    cap = int(settings.GUEST_STORAGE_MB * 2**20)
    if gp.stored_bytes + max(0, int(size)) > cap:
        left = max(1, int((gp.expires_at - timezone.now()).total_seconds()))
        raise TooMany(f"Guests may keep {settings.GUEST_STORAGE_MB:g} MB of uploads; yours hold "
                      f"{gp.stored_bytes / 2**20:.1f} MB and this file is {size / 2**20:.1f} MB. Your uploads "
                      f"are deleted in {_wait_text(left)}; sign in with a lab account for more room.",
                      retry_after=left)
    wait = hit(f"guest-upload:{user.pk}", settings.GUEST_UPLOAD_RATE)
    if wait is not None:
        raise TooMany(f"Guests may upload {settings.GUEST_UPLOAD_RATE.replace('/', ' per ')}; "
                      f"try again in {_wait_text(wait)}.", retry_after=wait)


def record_upload(user, size: int) -> None:
    if is_guest(user):
        from django.db.models import F

        GuestPass.objects.filter(user=user).update(stored_bytes=F("stored_bytes") + max(0, int(size)))


def check_engine(user, engine: str) -> None:
    if is_guest(user) and engine not in settings.GUEST_ENGINES:
        raise Forbidden(f"Guests may run {', '.join(settings.GUEST_ENGINES)}; {engine} needs a lab account.")


def check_run(user, engine: str, *, job: bool = True) -> None:
    """Before a guest's job (``job``) or interactive session is created."""
    if not is_guest(user):
        return
    _expired(user)
    check_engine(user, engine)
    if job and settings.GUEST_MAX_ACTIVE_JOBS:
        from webapp.jobs.models import Job

        active = Job.objects.filter(owner=user, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count()
        if active >= settings.GUEST_MAX_ACTIVE_JOBS:
            raise TooMany(f"Guests may have {settings.GUEST_MAX_ACTIVE_JOBS} jobs waiting or running at once; "
                          "wait for one to finish.", retry_after=10)
    wait = hit(f"guest-run:{user.pk}", settings.GUEST_JOB_RATE)
    if wait is not None:
        raise TooMany(f"Guests may start {settings.GUEST_JOB_RATE.replace('/', ' per ')} jobs and sessions; "
                      f"try again in {_wait_text(wait)}.", retry_after=wait)


def check_click(user) -> None:
    """Per interactive click (no database access: the socket's own loop calls it)."""
    if not is_guest(user):
        return
    wait = hit(f"guest-click:{user.pk}", settings.GUEST_CLICK_RATE)
    if wait is not None:
        raise TooMany(f"Too many clicks: guests may send {settings.GUEST_CLICK_RATE.replace('/', ' per ')}; "
                      f"try again in {_wait_text(wait)}.", retry_after=wait)


# ---------------------------------------------------------------- deleting guests

@dataclass
class PurgeReport:
    guests: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # "guest-…: why"


def _owned_files(user) -> list[str]:
    """Every stored file a guest's rows point at: photos (proxies, masks, prepared states), job outputs,
    and its interactive sessions' result images."""
    from webapp.interactive.models import InteractiveSession
    from webapp.jobs.models import Job
    from webapp.photos.models import Mask, Photo

    names: list[str] = []
    for photo in Photo.objects.filter(owner=user).prefetch_related("masks"):
        names += [photo.original.name, photo.working.name, photo.display.name]
        names += [mask.file.name for mask in photo.masks.all()]
        names += [entry["path"] for entry in (photo.prepared or {}).values()
                  if isinstance(entry, dict) and entry.get("path")]
    names += [mask.file.name for mask in Mask.objects.filter(created_by=user).exclude(photo__owner=user)]
    for outputs in Job.objects.filter(owner=user).values_list("outputs", flat=True):
        names += [o["path"] for o in outputs or [] if isinstance(o, dict) and o.get("path")]
    for session_id in InteractiveSession.objects.filter(owner=user).values_list("pk", flat=True):
        folder = f"sessions/{session_id}"
        try:
            names += [f"{folder}/{name}" for name in default_storage.listdir(folder)[1]]
        except (FileNotFoundError, NotADirectoryError):
            pass
    return [n for n in names if n]


def delete_guest(user) -> int:
    """Delete one guest, its rows and its files now; returns the number of files deleted."""
    from webapp.photos.models import Mask, Photo

    if not is_guest(user):
        raise ValueError(f"{user.username} is not a guest")
    names = _owned_files(user)
    with transaction.atomic():
        Mask.objects.filter(created_by=user).delete()
        Photo.objects.filter(owner=user).delete()  # owner is PROTECT: photos first (sessions cascade)
        user.delete()  # jobs, sessions, tokens, tickets and the guest pass cascade
    deleted = 0
    for name in names:
        try:
            default_storage.delete(name)
            deleted += 1
        except Exception:  # a file already gone (a racing purge) or a storage hiccup: rows are gone anyway
            log.warning("guest %s: could not delete %s", user.username, name, exc_info=True)
    return deleted


def purge_expired(now=None) -> PurgeReport:
    """Delete every guest whose pass has expired. A guest with a job still queued or running waits for
    the next purge (its worker would otherwise write outputs for a deleted job)."""
    from webapp.jobs.models import Job

    now = now or timezone.now()
    report = PurgeReport()
    busy = set(Job.objects.filter(owner__guest_pass__expires_at__lte=now,
                                  status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
               .values_list("owner_id", flat=True))
    for user in User.objects.filter(role=Role.GUEST, is_superuser=False, guest_pass__expires_at__lte=now):
        if user.pk in busy:
            report.skipped.append(f"{user.username}: a job is still running")
            continue
        try:
            report.files += delete_guest(user)
            report.guests += 1
        except ProtectedError as exc:
            report.skipped.append(f"{user.username}: still referenced by {len(exc.protected_objects)} row(s)")
    # guests whose pass row is missing (created by hand) expire from their join date
    cutoff = now - timedelta(hours=retention_hours())
    for user in User.objects.filter(role=Role.GUEST, is_superuser=False, guest_pass__isnull=True,
                                    date_joined__lte=cutoff):
        report.files += delete_guest(user)
        report.guests += 1
    if report.guests:
        log.info("purged %d expired guest(s), %d file(s)", report.guests, report.files)
    return report


def purge_if_due() -> PurgeReport | None:
    """Purge at most once per ``GUEST_PURGE_INTERVAL_SECONDS`` across the processes sharing the cache."""
    if settings.GUEST_PURGE_INTERVAL_SECONDS <= 0:
        return None
    if not cache.add(PURGE_DUE_KEY, 1, timeout=settings.GUEST_PURGE_INTERVAL_SECONDS):
        return None
    return purge_expired()
