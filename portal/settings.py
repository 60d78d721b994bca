"""Settings for the BVNK partner portal.

One module, driven by the environment (see .env.example and the README's table). Every
value has an embedded default so the portal runs with nothing external: SQLite, a
filesystem Celery broker and the local BVNK emulator. Production differs only by
environment variables.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _derived_fernet_key(secret: str) -> str:
    """Derive a Fernet key from SECRET_KEY: a development convenience, never production."""
    digest = hashlib.sha256(b"portal.field-encryption:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local state of the embedded defaults: SQLite file, broker queue, documents (git-ignored).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

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
    # Staff login: lockout (axes) and the second factor (django-otp: TOTP + recovery codes).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "customers",
]

MIDDLEWARE = [
    # First, so every log line of the request (and the error page) carries its id.
    "portal.security.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle and absolute session lifetime, then the second factor (portal/security.py).
    "portal.security.SessionLifetimeMiddleware",
    "portal.security.OTPRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "customers.context_processors.bvnk_alerts",
                "customers.context_processors.staff_notifications",
            ],
        },
    },
]

# SQLite when DATABASE_URL is unset; PostgreSQL (postgres://...) in CI and production.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the web, the worker's threads and webhooks at once: WAL
    # lets reads go on beside a write, and a transaction that will write takes the write
    # lock when it begins (waiting up to `timeout` seconds for it) instead of failing with
    # "database is locked" when it upgrades from reading.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        **DATABASES["default"].get("OPTIONS", {}),
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# Reconnect transparently after a database restart instead of failing the next request.
# (The webhook store skips this check and retries its idempotent insert: inbox/receiving.py.)
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
# The lockout backend comes first: a locked-out username is refused before any password
# hash is computed. Attempts are counted per username, known or not, so an unknown user
# and a wrong password look the same, lockout included.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("LOGIN_LOCKOUT_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for the IP address too. Per username, no rotating of user agents or
# cookies gets round the count; per IP, a whole office behind one NAT or proxy would be
# locked out by a few typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Every account needs a second factor (TOTP, or a recovery code) before it sees any page;
# `make run` turns this off for the demo and says so. A deploy check refuses it off.
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=True)
OTP_TOTP_ISSUER = "BVNK partner portal"
# The admin lists and removes devices (to re-enrol someone) but never shows their secrets.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

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
# Largest image accepted, in pixels, read from its header before decoding: 25 megapixels
# is a phone photo of a document; decoding more costs seconds of CPU and hundreds of MB.
DOCUMENT_MAX_IMAGE_PIXELS = env.int("DOCUMENT_MAX_IMAGE_PIXELS", default=25_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# A documents step sends all its files in one request; the portal's upload handler answers
# past customers.documents.MAX_FILES_PER_REQUEST (60), Django refuses more while parsing.
DATA_UPLOAD_MAX_NUMBER_FILES = 61
# ClamAV's clamd (tcp://host:3310 or unix:///run/clamav/clamd.ctl). Set: every document is
# scanned, and one the scanner could not check stays quarantined until a rescan clears it.
CLAMAV_URL = env.str("CLAMAV_URL", default="")
CLAMAV_TIMEOUT = env.float("CLAMAV_TIMEOUT", default=30.0)
CLAMAV_RESCAN_SECONDS = env.float("CLAMAV_RESCAN_SECONDS", default=300.0)
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
# Sends to BVNK have a queue of their own ("bvnk"), so webhook processing and sweeps never
# wait behind them; a worker without -Q consumes both queues.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {"celery": {}, "bvnk": {}}
CELERY_TASK_ROUTES = {"customers.tasks.send_bvnk_operation": {"queue": "bvnk"}}

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
# How BVNK signs webhooks is not settled: A (the default) = Base64 HMAC-SHA256 over the raw
# body; B = hex "Standard" over URL, content type and body.
BVNK_WEBHOOK_SIGNATURE = env.str("BVNK_WEBHOOK_SIGNATURE", default="A").upper()
BVNK_WEBHOOK_SIGNATURE_URL = env.str("BVNK_WEBHOOK_SIGNATURE_URL", default="full")
# The public URL BVNK posts to, for variant B behind a proxy; empty: built from the request.
BVNK_WEBHOOK_URL = env.str("BVNK_WEBHOOK_URL", default="")
# Secret rotation: the previous secret is also accepted until this ISO datetime.
BVNK_WEBHOOK_SECRET_PREVIOUS = env.str("BVNK_WEBHOOK_SECRET_PREVIOUS", default="")
BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = env.str("BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL", default="")
BVNK_WEBHOOK_MAX_BYTES = env.int("BVNK_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Refused deliveries and repeats of stored events are counted in memory and written
# at most this often (seconds).
BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS = env.float("BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS", default=1.0)
# Off: no broker call in the request path; the sweeper picks new events up within
# BVNK_WEBHOOK_SWEEP_SECONDS. On: also queue each new event on receipt (best effort),
# which costs about 40% of ingest throughput (bench/README.md).
BVNK_WEBHOOK_ENQUEUE = env.bool("BVNK_WEBHOOK_ENQUEUE", default=False)
BVNK_WEBHOOK_SWEEP_SECONDS = env.float("BVNK_WEBHOOK_SWEEP_SECONDS", default=1.0)
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
# PUT as BVNK's partner guide shows, or PATCH as its API explorer shows (customers/bvnk/wire.py).
BVNK_UPDATE_METHOD = env.str("BVNK_UPDATE_METHOD", default="PUT").upper()
# Where BVNK's hosted agreement page lives (the emulator serves one in development).
BVNK_AGREEMENT_URL = env.str("BVNK_AGREEMENT_URL", default=f"{EMULATOR_URL}/agreements")
BVNK_USE_CASE = env.str("BVNK_USE_CASE", default="EMBEDDED_FIAT_ACCOUNTS")

# The submission pipeline (customers/outbox/): every write to BVNK is a BvnkOperation row.
# Transient failures are retried after a full-jitter exponential backoff (base * 2^n, capped),
# up to BVNK_OPERATION_MAX_ATTEMPTS; then the operation needs attention. Back-offs live in
# the row (next_attempt_at), which the sweeper picks up, never in Celery countdowns.
BVNK_OPERATION_MAX_ATTEMPTS = env.int("BVNK_OPERATION_MAX_ATTEMPTS", default=10)
BVNK_OPERATION_BACKOFF_SECONDS = env.float("BVNK_OPERATION_BACKOFF_SECONDS", default=5.0)
BVNK_OPERATION_BACKOFF_MAX_SECONDS = env.float("BVNK_OPERATION_BACKOFF_MAX_SECONDS", default=1800.0)
# How long a claim holds an operation: longer than any attempt can run (two BVNK calls at
# their timeouts, the task's hard time limit), shorter than the broker's visibility timeout.
BVNK_OPERATION_LEASE_SECONDS = env.int("BVNK_OPERATION_LEASE_SECONDS", default=15)
# Claims that end without an outcome (the worker died) before the operation needs attention.
BVNK_OPERATION_MAX_LOST_CLAIMS = env.int("BVNK_OPERATION_MAX_LOST_CLAIMS", default=3)
BVNK_OPERATION_SWEEP_SECONDS = env.float("BVNK_OPERATION_SWEEP_SECONDS", default=5.0)
# A due operation whose task was published this long ago and never ran is published again.
BVNK_OPERATION_REDRIVE_SECONDS = env.int("BVNK_OPERATION_REDRIVE_SECONDS", default=300)
# How often an operation waiting on BVNK's status (documents while PENDING) looks again.
BVNK_OPERATION_WAIT_SECONDS = env.int("BVNK_OPERATION_WAIT_SECONDS", default=60)
# Reconciliation (customers/services/reconcile.py): list BVNK's customers this often,
# and read one by one those the portal has not heard about for BVNK_RECONCILE_STALE_SECONDS.
BVNK_RECONCILE_SECONDS = env.float("BVNK_RECONCILE_SECONDS", default=3600.0)
BVNK_RECONCILE_STALE_SECONDS = env.int("BVNK_RECONCILE_STALE_SECONDS", default=6 * 3600)
CELERY_BEAT_SCHEDULE |= {
    "sweep-bvnk-operations": {
        "task": "customers.tasks.sweep_bvnk_operations",
        "schedule": BVNK_OPERATION_SWEEP_SECONDS,
        "options": {"expires": BVNK_OPERATION_SWEEP_SECONDS},
    },
    "reconcile-customers": {
        "task": "customers.tasks.reconcile_customers",
        "schedule": BVNK_RECONCILE_SECONDS,
        "options": {"expires": BVNK_RECONCILE_SECONDS},
    },
}

# Production hardening; all on unless DEBUG, each overridable.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The platform probes the container over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# X-Forwarded-Proto is believed only behind a TLS-terminating proxy that sets it (the
# docker-compose stack's Caddy); otherwise any client could claim HTTPS.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# Browser features no page of the portal uses, refused to every page and frame.
PERMISSIONS_POLICY = env.str(
    "PERMISSIONS_POLICY",
    default="accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()",
)
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
SECURE_CONTENT_TYPE_NOSNIFF = True
# Logged out after this long without a request (30 minutes), and SESSION_COOKIE_AGE after
# logging in whatever the activity (portal/security.py).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# My customers refreshes its rows and tab counts this often while open (static/js/live.js).
LIVE_REFRESH_SECONDS = env.int("LIVE_REFRESH_SECONDS", default=15)
# My customers' "Waiting on us" tab counts a draft untouched this many days.
WORK_QUEUE_STALE_DRAFT_DAYS = env.int("WORK_QUEUE_STALE_DRAFT_DAYS", default=7)
# No inline scripts or styles anywhere; forms post to the portal, and the agreement step's
# redirect (a form's target as far as the browser is concerned) to BVNK's hosted page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", _origin(BVNK_AGREEMENT_URL)],
    }
}

# Personal data at rest (customers/crypto.py): Fernet keys, newest first; older ones only
# decrypt until `manage.py reencrypt_personal_data` has run. Without keys a development
# key is derived from SECRET_KEY, only when DEBUG; a deploy check refuses that.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    FIELD_ENCRYPTION_KEYS = [_derived_fernet_key(SECRET_KEY)]
# Search over encrypted emails (customers/crypto.py): secrets for their keyed hashes, newest
# first, apart from FIELD_ENCRYPTION_KEYS so a leaked encryption key does not also reveal
# who is searchable (and the reverse). Lookups try every key; `manage.py
# reencrypt_personal_data` rehashes under the newest, then the old one can go.
SEARCH_INDEX_KEYS = env.list("SEARCH_INDEX_KEYS", default=[])
if not SEARCH_INDEX_KEYS and DEBUG:
    SEARCH_INDEX_KEYS = [hashlib.sha256(b"portal.search-index:" + SECRET_KEY.encode()).hexdigest()]

# Retention (customers/retention.py, beat): drafts untouched this long are deleted with their
# files; terminated (and finally rejected) customers are anonymised this long after.
RETENTION_DRAFT_DAYS = env.int("RETENTION_DRAFT_DAYS", default=90)
RETENTION_TERMINATED_DAYS = env.int("RETENTION_TERMINATED_DAYS", default=5 * 365)
BVNK_OPERATION_PAYLOAD_RETENTION_DAYS = env.int("BVNK_OPERATION_PAYLOAD_RETENTION_DAYS", default=7)
CELERY_BEAT_SCHEDULE |= {
    "apply-retention": {
        "task": "customers.tasks.apply_retention",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "rescan-quarantined-documents": {
        "task": "customers.tasks.rescan_quarantined_documents",
        "schedule": CLAMAV_RESCAN_SECONDS,
        "options": {"expires": CLAMAV_RESCAN_SECONDS},
    },
}

# Email: files under EMAIL_FILE_PATH by default (never the console: a worker's log would
# hold every message with the customer's name); SMTP with EMAIL_URL, e.g.
# smtp+tls://user:pass@host:587 (django-environ's email_url: smtp, smtps, smtp+tls, ...).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
    EMAIL_PORT = _email["EMAIL_PORT"] or 25
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Where django.core.mail.backends.filebased.EmailBackend keeps each message (staging, tests).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
# Notifications (customers/notifications.py): besides the customer's owner, these addresses
# get every status email and the team digest.
NOTIFY_TEAM_EMAIL = env.list("NOTIFY_TEAM_EMAIL", default=[])
NOTIFY_DIGEST_HOUR = env.int("NOTIFY_DIGEST_HOUR", default=7)
# The portal's public address, for links in emails (no request to build them from).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
CELERY_BEAT_SCHEDULE |= {
    "sweep-notifications": {
        "task": "customers.tasks.sweep_notifications",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "queue-daily-digest": {
        "task": "customers.tasks.queue_daily_digest",
        "schedule": crontab(hour=NOTIFY_DIGEST_HOUR, minute=0),
    },
}

LOGGING_CONFIG = "portal.log_filters.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    # On every handler: the request id, and personal data masked (portal/log_filters.py).
    "filters": {
        "request_id": {"()": "portal.log_filters.RequestIdFilter"},
        "personal_data": {"()": "portal.log_filters.PersonalDataFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
