"""The example project as a django-prodserver 3.0 user has it: PRODUCTION_PROCESSES in settings, unchanged from
django-prodserver's documented format, and `entrypoint` installed for `manage.py server` / `manage.py worker`.
Run with DJANGO_SETTINGS_MODULE=example.settings_prodserver."""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "entrypoint"]  # noqa: F405

PRODUCTION_PROCESSES = {
    "web": {
        "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
        "ARGS": {"bind": "127.0.0.1:8000", "workers": 2, "preload": None},
    },
    "asgi": {
        "BACKEND": "django_prodserver.backends.servers.uvicorn.UvicornServer",
        "ARGS": {"host": "127.0.0.1", "port": "8001"},
    },
    "wsgi_uvicorn": {
        "BACKEND": "django_prodserver.backends.servers.uvicorn.UvicornWSGIServer",
        "ARGS": {"port": "8002"},
    },
    "worker": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryWorker",
        "APP": "example.celery.app",
        "ARGS": {"concurrency": 1, "pool": "solo"},
    },
    "beat": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryBeat",
        "APP": "example.celery.app",
        "ARGS": {"schedule": "/tmp/celerybeat-schedule"},
    },
    "tasks": {
        "BACKEND": "django_prodserver.backends.workers.django_tasks.DjangoTasksWorker",
        "ARGS": {"queue-name": "default"},
    },
}
