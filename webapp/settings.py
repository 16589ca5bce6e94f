"""Settings, driven by environment variables only.

Nothing configured → *embedded* mode: SQLite and media under DATA_DIR, in-memory channel layer,
Celery on the in-process memory transport (a worker thread inside ``manage.py serve``).
Set DATABASE_URL / CELERY_BROKER_URL / CHANNELS_REDIS_URL / MEDIA_ROOT or S3_BUCKET for the
*distributed* mode (see docs/deployment.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from webapp.private_files import ensure_private, read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # Embedded mode: a per-installation key kept beside the data, never a hard-coded one.
    # Created with mode 0600 before the key is written (webapp/private_files.py).
    SECRET_KEY = read_or_create_secret(DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50))

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# HTTPS (docs/deployment.md, "HTTPS and security headers"): HTTPS_ONLY=1 switches every one of these
# on; each variable overrides it. `manage.py check --deploy` is clean with HTTPS_ONLY=1.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS_ONLY)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS_ONLY else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS_ONLY)
_proxy_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_header:
    # "1" trusts X-Forwarded-Proto; any other value names the header the TLS proxy sets.
    _proxy_header = "X-Forwarded-Proto" if env_bool("SECURE_PROXY_SSL_HEADER") else _proxy_header
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
X_FRAME_OPTIONS = "DENY"
# Pages load scripts, styles and images from this origin only (no inline script; style attributes
# are allowed, style elements are not). S3 media adds its endpoint to img-src and connect-src.
CSP_MEDIA_ORIGINS = [o for o in os.environ.get("CSP_MEDIA_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "webapp.accounts",
    "webapp.photos",
    "webapp.jobs",
    "webapp.interactive",
    "webapp.pages",
    "webapp.annotation",
    "webapp.samples",
    "studies",
    "webapp.registry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.exception_handler.RefusalMiddleware",
    "webapp.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
AUTH_USER_MODEL = "accounts.User"
# Every path that sets a password (adduser, the services, POST /api/auth/password/, the admin) checks these.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# API tokens expire this long after they were issued (a new sign-in after that issues a new one);
# a password change and signing out revoke them. WebSocket tickets are single-use and short-lived.
API_TOKEN_TTL_SECONDS = int(float(os.environ.get("API_TOKEN_TTL_HOURS", 24)) * 3600)
WS_TICKET_TTL_SECONDS = int(os.environ.get("WS_TICKET_TTL_SECONDS", 30))
# Sign-in (POST /api/auth/token/ and /signin/): after this many failures within the window, per
# username and per client address, every attempt is refused with 429 until the window passes.
LOGIN_MAX_FAILURES_PER_USER = int(os.environ.get("LOGIN_MAX_FAILURES_PER_USER", 10))
LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("LOGIN_MAX_FAILURES_PER_IP", 50))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", 900))
LOGIN_URL = "/signin/"
LOGIN_REDIRECT_URL = "/photos/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.context_processors.upload_limits",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Under ASGI each sync request runs on a short-lived thread, so persistent per-thread
    # connections leak (Django #33497). A process-wide psycopg pool reuses them instead.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN", 2)),
            "max_size": int(os.environ.get("DB_POOL_MAX", 20)),
            "timeout": 10,
        }
else:
    # The file holds sign-in tokens: mode 0600 before SQLite writes to it (its -wal/-shm copy the mode).
    ensure_private(DATA_DIR / "db.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Worker thread and web server share the file: wait for locks instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    }
EMBEDDED = not DATABASE_URL and not os.environ.get("CELERY_BROKER_URL")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = DATA_DIR / "static"

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media")).resolve()
if os.environ.get("S3_BUCKET"):
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": os.environ["S3_BUCKET"],
                "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    CSP_MEDIA_ORIGINS = CSP_MEDIA_ORIGINS or [os.environ.get("S3_ENDPOINT_URL") or "https://*.amazonaws.com"]
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# Upload limits: the API refuses larger files with a 413 before decoding anything.
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", 200 * 2**20))
UPLOAD_MAX_PIXELS = int(os.environ.get("UPLOAD_MAX_PIXELS", 100_000_000))
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 2**20
# Request bodies (webapp/http_limits.py, before Django reads them): multipart uploads up to
# UPLOAD_MAX_BYTES plus 1 MiB of form overhead, any other body up to DATA_UPLOAD_MAX_MEMORY_SIZE;
# a larger Content-Length is answered 413 at once, a longer chunked body as soon as it passes.
REQUEST_MAX_BYTES = UPLOAD_MAX_BYTES + 2**20
# Decoding an image may use about this much memory (pixels × bytes, read from the header first);
# a larger image is refused with 413 before it is decoded.
DECODE_MEMORY_BUDGET_BYTES = int(float(os.environ.get("DECODE_MEMORY_MB", 1024)) * 2**20)
# Zip archives (study item imports): checked member by member before anything is inflated.
ARCHIVE_MAX_TOTAL_BYTES = int(float(os.environ.get("ARCHIVE_MAX_TOTAL_MB", 1024)) * 2**20)
ARCHIVE_MAX_RATIO = float(os.environ.get("ARCHIVE_MAX_RATIO", 100))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON nested deeper than 32 levels, or text with NUL characters or unpaired surrogates, is a 400.
    "DEFAULT_PARSER_CLASSES": [
        "webapp.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("ANON_THROTTLE_RATE", "60/min")},
    # Client addresses for per-IP limits: REMOTE_ADDR, or X-Forwarded-For behind this many proxies.
    # Never None: DRF would then believe any X-Forwarded-For a client sends.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES") or 0),
    # Signed-in members (not guests): guests reach only the endpoints that name them (docs/api.md).
    "DEFAULT_PERMISSION_CLASSES": ["webapp.accounts.permissions.IsMember"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "webapp.exception_handler.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portrait Lab API",
    "DESCRIPTION": "Photos, jobs, interactive sessions and user studies for portrait retouching research.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The participant endpoints are plain Django views, which drf-spectacular does not see.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "studies.schema.add_participant_endpoints"],
    "ENUM_NAME_OVERRIDES": {"StudyStatusEnum": "studies.models.Study.Status",
                            # three models have a "kind": name each one's enum (check --deploy stays clean)
                            "StudyKindEnum": "studies.kinds.CHOICES",
                            "MaskKindEnum": "webapp.photos.models.Mask.Kind",
                            "AnnotationProjectKindEnum": "webapp.annotation.models.AnnotationProject.Kind"},
}

# Celery: every job goes through a real broker, in both modes.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://localhost/")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged task after this many seconds (worker died mid-job).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600)),
}
if CELERY_BROKER_URL.startswith("memory://"):
    # The in-process transport is polled; poll often so interactive jobs start at once.
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.005
# A running job whose worker stops reporting for this long is retried once, then failed.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", 2.0))
JOB_STALE_AFTER_SECONDS = float(os.environ.get("JOB_STALE_AFTER_SECONDS", 30.0))
# How often a worker reports itself, reaps stale jobs and purges expired guests (tests shorten it).
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", 5.0))
JOB_MAX_ATTEMPTS = 2
# A queued job whose queue no live worker serves is failed after this long (docs/api.md).
JOB_UNSERVED_TIMEOUT_SECONDS = float(os.environ.get("JOB_UNSERVED_TIMEOUT_SECONDS", 600))
WORKER_NAME = os.environ.get("WORKER_NAME", "")

# Guests of "Try it online" (webapp/accounts/guests.py, docs/deployment.md "Guest access"): one click
# makes a short-lived user of role "guest"; it and everything it made are deleted GUEST_RETENTION_HOURS
# after it was created (by `manage.py purge_guests` and every worker's heartbeat, at most every
# GUEST_PURGE_INTERVAL_SECONDS). Rates are "N/period" like the join rates below ("0" turns one off);
# beyond a rate or quota a request is refused with 429 and a Retry-After header.
GUEST_ACCESS = env_bool("GUEST_ACCESS", True)
GUEST_RETENTION_HOURS = float(os.environ.get("GUEST_RETENTION_HOURS", 24))
GUEST_CREATION_RATE_PER_IP = os.environ.get("GUEST_CREATION_RATE_PER_IP", "10/h")
GUEST_MAX_ACTIVE = int(os.environ.get("GUEST_MAX_ACTIVE", 2000))  # guests alive at once, site-wide
GUEST_UPLOAD_RATE = os.environ.get("GUEST_UPLOAD_RATE", "30/h")  # photos, masks and composites per guest
GUEST_JOB_RATE = os.environ.get("GUEST_JOB_RATE", "60/h")  # jobs and interactive sessions per guest
GUEST_CLICK_RATE = os.environ.get("GUEST_CLICK_RATE", "600/min")  # interactive clicks per guest
GUEST_MAX_ACTIVE_JOBS = int(os.environ.get("GUEST_MAX_ACTIVE_JOBS", 2))  # queued + running per guest
GUEST_STORAGE_MB = float(os.environ.get("GUEST_STORAGE_MB", 300))  # uploads + masks per guest
GUEST_ENGINES = [e for e in os.environ.get(
    "GUEST_ENGINES", "retouch.interactive,retouch.clicks,harmonize,harmonize.net,background.replace,retouch.blemish"
).split(",") if e]
GUEST_PURGE_INTERVAL_SECONDS = int(os.environ.get("GUEST_PURGE_INTERVAL_SECONDS", 600))

# User studies: how many participants may join, as "N/period" (period: s, min, h or day; "0" turns a
# limit off), per client address (as REST_FRAMEWORK's NUM_PROXIES tells it) and for the whole site.
# Counted in the default cache. Beyond them a join is refused with 429 (studies.participation).
STUDY_JOIN_RATE_PER_IP = os.environ.get("STUDY_JOIN_RATE_PER_IP", "30/min")
STUDY_JOIN_RATE_GLOBAL = os.environ.get("STUDY_JOIN_RATE_GLOBAL", "600/min")

CHANNELS_REDIS_URL = os.environ.get("CHANNELS_REDIS_URL", "")
if CHANNELS_REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout None: redis-py 8 reads with a 5 s timeout by default, which ends the layer's
            # blocking BZPOPMIN (5 s) and so every idle WebSocket (channels_redis#422, redis-py#4091)
            "CONFIG": {"hosts": [{"address": CHANNELS_REDIS_URL, "socket_timeout": None}], "capacity": 1000,
                       "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Rate-limit counters (sign-in, joins) must be shared by every web process: Redis when there is one.
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", CHANNELS_REDIS_URL)
if CACHE_REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_REDIS_URL,
                          "KEY_PREFIX": "portrait_lab"}}

# Engines whose weights live on disk: ENGINE_WEIGHTS_DIR/<engine>.pt, never downloaded.
ENGINE_WEIGHTS_DIR = Path(os.environ.get("ENGINE_WEIGHTS_DIR", DATA_DIR / "weights"))
# Learned engines' trained weights: MODEL_DIR/<engine>/<version>/{weights.safetensors,card.json}
# (inference.modelstore; written by `python -m inference.train`).
MODEL_DIR = Path(os.environ.get("MODEL_DIR", DATA_DIR / "models"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"portrait_lab": {"level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": True}},
}
