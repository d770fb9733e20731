from entrypoint.management.process_command import ProcessCommand
from entrypoint.settings.registry import WEB


class Command(ProcessCommand):
    help = "Run a web server process (gunicorn, uvicorn, ...) the way `prod-entry NAME` does: exec, warmup."
    kind = WEB
