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
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

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
    "studies",
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
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
AUTH_USER_MODEL = "accounts.User"
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
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
    "ENUM_NAME_OVERRIDES": {"StudyStatusEnum": "studies.models.Study.Status"},
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
JOB_MAX_ATTEMPTS = 2
WORKER_NAME = os.environ.get("WORKER_NAME", "")

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
            "CONFIG": {"hosts": [CHANNELS_REDIS_URL], "capacity": 1000, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

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
