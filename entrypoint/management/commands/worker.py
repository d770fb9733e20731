from entrypoint.settings.registry import WORKER
from entrypoint.management.process_command import ProcessCommand


class Command(ProcessCommand):
    help = "Run a worker process (celery, django-tasks, ...) the way `prod-entry NAME` does: exec."
    kind = WORKER
