"""django-webserver's view of the example project: its app installed (for `manage.py gunicorn`) and its
warmup pointed at the same health URL prod-entry warms up."""

from example import settings as example_settings
from example.settings import *  # noqa: F403

INSTALLED_APPS = [*example_settings.INSTALLED_APPS, "django_webserver"]
WEBSERVER_WARMUP = True
WEBSERVER_WARMUP_HEALTHCHECK = "/healthz"
