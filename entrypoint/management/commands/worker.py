from entrypoint.management.process_command import ProcessCommand
from entrypoint.settings.registry import WORKER


class Command(ProcessCommand):
    help = "Run a worker process (celery, django-tasks, ...) the way `prod-entry NAME` does: exec."
    kind = WORKER
