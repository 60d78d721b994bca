"""Settings for the BVNK partner portal.

One module, driven by the environment (see .env.example and the README's table). Every
value has an embedded default so the portal runs with nothing external: SQLite, a
filesystem Celery broker and the local BVNK emulator. Production differs only by
environment variables.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of the embedded defaults (git-ignored)
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The emulator's well-known development credentials. They are only used while the
# portal talks to the emulator; deploy checks refuse them anywhere else.
EMULATOR_URL = "http://127.0.0.1:8001"
EMULATOR_HAWK_AUTH_ID = "emulator-hawk-id"
EMULATOR_HAWK_SECRET = "emulator-hawk-secret"  # noqa: S105 - public development value
EMULATOR_WEBHOOK_SECRET = "emulator-webhook-secret"  # noqa: S105 - public development value

DEBUG = env.bool("DEBUG", default=False)
# The "django-insecure-" prefix makes `check --deploy` fail until a real key is set.
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-development-only-key-do-not-use-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "customers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# SQLite when DATABASE_URL is unset; PostgreSQL (postgres://...) in CI and production.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# Reconnect transparently after a database restart instead of failing the next request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders until collectstatic has run (development, tests).
WHITENOISE_USE_FINDERS = True

# Compliance documents live under a private root that no URL maps to; staff download
# them only through a permission-checked view.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Celery. Without CELERY_BROKER_URL (or REDIS_URL) the broker is kombu's filesystem
# transport under var/broker: no server, yet a separate worker process still consumes.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # Longer than any task's hard time limit, so Redis never redelivers a running task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# BVNK. The defaults point at the local emulator with its development credentials.
BVNK_BASE_URL = env.str("BVNK_BASE_URL", default=EMULATOR_URL).rstrip("/")
_talks_to_emulator = BVNK_BASE_URL == EMULATOR_URL
BVNK_HAWK_AUTH_ID = env.str(
    "BVNK_HAWK_AUTH_ID", default=EMULATOR_HAWK_AUTH_ID if _talks_to_emulator else ""
)
BVNK_HAWK_SECRET = env.str(
    "BVNK_HAWK_SECRET", default=EMULATOR_HAWK_SECRET if _talks_to_emulator else ""
)
BVNK_WEBHOOK_SECRET = env.str(
    "BVNK_WEBHOOK_SECRET", default=EMULATOR_WEBHOOK_SECRET if _talks_to_emulator else ""
)
# Decision 9 of bvnk-api.md: A = Base64 HMAC over the raw body; B = hex "Standard".
BVNK_WEBHOOK_SIGNATURE = env.str("BVNK_WEBHOOK_SIGNATURE", default="A").upper()
BVNK_WEBHOOK_SIGNATURE_URL = env.str("BVNK_WEBHOOK_SIGNATURE_URL", default="full")
# The public URL BVNK posts to, for variant B behind a proxy; empty: built from the request.
BVNK_WEBHOOK_URL = env.str("BVNK_WEBHOOK_URL", default="")
# Secret rotation: the previous secret is also accepted until this ISO datetime.
BVNK_WEBHOOK_SECRET_PREVIOUS = env.str("BVNK_WEBHOOK_SECRET_PREVIOUS", default="")
BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = env.str("BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL", default="")
BVNK_WEBHOOK_MAX_BYTES = env.int("BVNK_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Hand new events to a worker on receipt (best effort); the sweeper runs them regardless.
BVNK_WEBHOOK_ENQUEUE = env.bool("BVNK_WEBHOOK_ENQUEUE", default=True)
BVNK_WEBHOOK_SWEEP_SECONDS = env.float("BVNK_WEBHOOK_SWEEP_SECONDS", default=5.0)
# How long an event about an unknown customer/session/document waits before it fails.
BVNK_WEBHOOK_HOLD_SECONDS = env.int("BVNK_WEBHOOK_HOLD_SECONDS", default=24 * 3600)
# Attempts after transient failures (BVNK unreachable, database errors) before FAILED.
BVNK_WEBHOOK_MAX_ATTEMPTS = env.int("BVNK_WEBHOOK_MAX_ATTEMPTS", default=10)
BVNK_WEBHOOK_RETENTION_DAYS = env.int("BVNK_WEBHOOK_RETENTION_DAYS", default=30)
BVNK_WEBHOOK_PURGE_SECONDS = env.float("BVNK_WEBHOOK_PURGE_SECONDS", default=3600.0)
# Celery beat (`celery -A portal beat`, or a worker with --beat). A sweep that waited
# longer than its interval is dropped: the next one does the same work.
CELERY_BEAT_SCHEDULE = {
    "sweep-webhook-events": {
        "task": "customers.tasks.sweep_webhook_events",
        "schedule": BVNK_WEBHOOK_SWEEP_SECONDS,
        "options": {"expires": BVNK_WEBHOOK_SWEEP_SECONDS},
    },
    "purge-webhook-events": {
        "task": "customers.tasks.purge_webhook_events",
        "schedule": BVNK_WEBHOOK_PURGE_SECONDS,
    },
}
BVNK_CONNECT_TIMEOUT = env.float("BVNK_CONNECT_TIMEOUT", default=5.0)
BVNK_READ_TIMEOUT = env.float("BVNK_READ_TIMEOUT", default=30.0)
# Where BVNK's hosted agreement page lives (the emulator serves one in development).
BVNK_AGREEMENT_URL = env.str("BVNK_AGREEMENT_URL", default=f"{EMULATOR_URL}/agreements")
BVNK_USE_CASE = env.str("BVNK_USE_CASE", default="EMBEDDED_FIAT_ACCOUNTS")

# Production hardening; all on unless DEBUG, each overridable.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
