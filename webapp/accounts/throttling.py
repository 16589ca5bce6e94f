"""Sign-in throttling, per username and per client address, shared by ``/api/auth/token/`` and
``/signin/``.

Failures are counted in the default cache (Redis when the deployment has one) for
``LOGIN_FAILURE_WINDOW_SECONDS`` from the first failure. Once a username has
``LOGIN_MAX_FAILURES_PER_USER`` failures, or an address ``LOGIN_MAX_FAILURES_PER_IP``, every
attempt (a right password included) is refused with 429 until the window passes. A successful
sign-in clears its username's count.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from webapp.refusal import TooMany


def client_address(request) -> str:
    """REMOTE_ADDR, or the X-Forwarded-For entry REST_FRAMEWORK's NUM_PROXIES points at."""
    return BaseThrottle().get_ident(request) or "unknown"


class LoginGuard:
    def __init__(self, request, username: str):
        name = hashlib.sha256(str(username).strip().lower().encode("utf-8", "replace")).hexdigest()
        address = hashlib.sha256(client_address(request).encode("utf-8", "replace")).hexdigest()
        self.user_key = f"login-failures:user:{name}"
        self.ip_key = f"login-failures:ip:{address}"

    def check(self) -> None:
        counts = cache.get_many([self.user_key, self.ip_key])
        if counts.get(self.user_key, 0) >= settings.LOGIN_MAX_FAILURES_PER_USER or \
                counts.get(self.ip_key, 0) >= settings.LOGIN_MAX_FAILURES_PER_IP:
            minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_SECONDS / 60))
            raise TooMany(f"Too many failed sign-ins. Try again in up to {minutes} minutes.")

    def failed(self) -> None:
        for key in (self.user_key, self.ip_key):
            cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: start a new window
                cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)

    def succeeded(self) -> None:
        cache.delete(self.user_key)


# ---------------------------------------------------------------- rates in fixed windows (guests)

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}


def parse_rate(spec: str) -> tuple[int, int] | None:
    """"10/h" → (10, 3600); "0" or "" → None (no limit). The period is a unit or a number of seconds."""
    from django.core.exceptions import ImproperlyConfigured

    count, _, period = str(spec or "0").partition("/")
    try:
        limit = int(count)
        seconds = int(period) if period.strip().isdigit() else _PERIODS[period.strip() or "min"]
    except (KeyError, ValueError):
        raise ImproperlyConfigured(f"A rate is N/period (10/h, 30/min, 5/60), not {spec!r}.") from None
    return (limit, max(1, seconds)) if limit > 0 else None


def hit(key: str, spec: str) -> int | None:
    """Count one use of ``key`` in the current window of the rate ``spec``. Returns None while within
    the rate, else the seconds until the window ends (the Retry-After)."""
    import time

    rate = parse_rate(spec)
    if rate is None:
        return None
    limit, seconds = rate
    now = int(time.time())
    window = f"rate:{key}:{seconds}:{now // seconds}"
    cache.add(window, 0, timeout=seconds + 1)
    try:
        count = cache.incr(window)
    except ValueError:  # evicted between add and incr
        cache.set(window, 1, timeout=seconds + 1)
        count = 1
    return None if count <= limit else seconds - now % seconds


def address_digest(request) -> str:
    return hashlib.sha256(client_address(request).encode("utf-8", "replace")).hexdigest()
