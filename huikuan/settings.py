"""Settings for Huikuan.

Everything has a working default (SQLite under ``var/``, database task backend), so a fresh
checkout runs with no configuration; production overrides come from the environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HUIKUAN_VAR_DIR", BASE_DIR / "var"))


def _secret_key() -> str:
    """Read the key from the environment, else keep one generated on first run in ``var/``."""
    if key := os.environ.get("HUIKUAN_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("HUIKUAN_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("HUIKUAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("HUIKUAN_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "huikuan.iam",
    "huikuan.audit",
    "huikuan.ledger",
    "huikuan.intake",
    "huikuan.strategy",
    "huikuan.cycle",
    "huikuan.workqueue",
    "huikuan.contact",
    "huikuan.api",
    "huikuan.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "huikuan.urls"
WSGI_APPLICATION = "huikuan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "huikuan.web.context.navigation",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return dict(dj_database_url.parse(url, conn_max_age=60))
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "huikuan.sqlite3",
        # WAL lets the web server read while a long import or cycle writes.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "iam.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:ledger"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "huikuan" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Only `collectstatic` needs a root; the app serves straight from the apps (see below).
STATIC_ROOT = os.environ.get("HUIKUAN_STATIC_ROOT") or None
# Serve straight from the apps' static folders: no collectstatic step for the embedded default.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = VAR_DIR / "media"
# Uploaded import files (named by their SHA-256) and the reports made from them.
HUIKUAN_FILES_DIR = Path(os.environ.get("HUIKUAN_FILES_DIR", VAR_DIR / "files"))
# Largest file the web form and the API accept; the command line has no limit.
HUIKUAN_UPLOAD_MAX_BYTES = int(os.environ.get("HUIKUAN_UPLOAD_MAX_BYTES", 512 * 1024 * 1024))
# Ledger exports of more accounts than this are made in the background (about 2 s of work).
HUIKUAN_EXPORT_SYNC_ROWS = int(os.environ.get("HUIKUAN_EXPORT_SYNC_ROWS", 5000))
# The daily cycle: the background worker starts the day's run once after this local time
# ("HH:MM"; empty: no schedule), split into this many partition tasks.
HUIKUAN_CYCLE_AT = os.environ.get("HUIKUAN_CYCLE_AT", "05:30")
HUIKUAN_CYCLE_PARTITIONS = int(os.environ.get("HUIKUAN_CYCLE_PARTITIONS", 1))
# What the apps above the cycle do at a run's start and after its end, called as
# ``hook(run=..., actor=...)`` (cycle.services): the cycle does not import them.
# Memory for the sorts and hash tables of the cycle's queries on PostgreSQL, per connection
# (each worker has one): enough to keep a million accounts' aggregates off the disk.
HUIKUAN_CYCLE_WORK_MEM = os.environ.get("HUIKUAN_CYCLE_WORK_MEM", "256MB")
HUIKUAN_CYCLE_BEFORE: list[str] = []
HUIKUAN_CYCLE_AFTER: list[str] = []
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024  # larger uploads spool to a temporary file
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

# Background work (DESIGN §5): the database backend by default, run by `huikuan worker`
# (which `huikuan serve` starts beside the web server). HUIKUAN_TASKS=immediate runs tasks
# inline, as the tests do.
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if os.environ.get("HUIKUAN_TASKS") == "immediate"
            else "django_tasks_db.DatabaseBackend"
        )
    }
}

# Progress of long jobs is written here by the worker and read by the web server, outside the
# job's transaction: a shared file cache by default, Redis when HUIKUAN_REDIS_URL is set.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["HUIKUAN_REDIS_URL"],
        }
        if os.environ.get("HUIKUAN_REDIS_URL")
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("HUIKUAN_LOG_LEVEL", "WARNING")},
}

# Labels used in templates and the API; the source of truth for the role list is iam.roles.
HUIKUAN_PRODUCT_NAME = _("Huikuan")
