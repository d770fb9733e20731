"""The example's Celery app: `prod-entry worker` with PROD_ENTRY_PROCESS_WORKER=celery-worker finds it as
`example` (the Django project package) by convention. It keeps prod-entry's heartbeat file fresh, for
`prod-entry healthcheck worker --file PATH --max-age SECONDS`."""

import os

from celery import Celery

from entrypoint.health.heartbeats import celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
app = Celery("example", include=["example.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
celery.install()
