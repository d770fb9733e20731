"""The example's Celery app, with nothing of prod-entry's in it: `prod-entry worker` with
PROD_ENTRY_PROCESS_WORKER=celery-worker finds it as `example.celery` (the Celery module of the Django project
package), imports it and reaches its broker before exec, and serves it through its --app wrapper, which keeps
the heartbeat file of `prod-entry healthcheck worker` fresh."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
app = Celery("example", include=["example.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
