"""Settings for prod-entry's example project, all from the environment (twelve-factor style)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

# A development default; a real deployment sets DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "0") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "example",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"


def _database(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path[1:] if parts.path.startswith("//")
                else parts.path or str(BASE_DIR / "db.sqlite3")}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Persistent connections (seconds): the tests check that the warmup's own is not shared by workers.
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
    }


# No database unless DATABASE_URL names one: the example's pages need none, and a database that exists only to be
# empty would fail prod-entry's deep checks (unapplied migrations) until someone migrates it.
DATABASES = {"default": _database(os.environ["DATABASE_URL"])} if os.environ.get("DATABASE_URL") else {}
# A Redis cache when DJANGO_CACHE_URL names one (the tests' cache-down case); else Django's local-memory default.
if os.environ.get("DJANGO_CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["DJANGO_CACHE_URL"]}}
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"  # Django would otherwise export TZ=America/Chicago into the worker processes

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None  # unset: celery keeps no results
# Celery 5.5+: on a cold shutdown (QUIT, or TERM with PROD_ENTRY_SIGNAL_REWRITE=TERM:QUIT), running tasks get
# this long to finish before they are cancelled (and, with acks_late, handed back to the broker). 0: off.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(os.environ.get("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", "0"))

# django-q2 (`prod-entry` backend django-q2), opt-in so that the image and the other tests need neither the
# package nor its tables: the ORM broker keeps the queue in the default database, no other service.
if os.environ.get("EXAMPLE_DJANGO_Q") == "1":
    INSTALLED_APPS.append("django_q")
    Q_CLUSTER = {"name": "example", "orm": "default", "workers": 1, "timeout": 30, "retry": 60, "poll": 0.2}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}
