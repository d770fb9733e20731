"""django-webserver's view of the example project: its app installed (for `manage.py gunicorn`) and its
warmup pointed at the same health URL prod-entry warms up."""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_webserver"]  # noqa: F405
WEBSERVER_WARMUP = True
WEBSERVER_WARMUP_HEALTHCHECK = "/healthz"
