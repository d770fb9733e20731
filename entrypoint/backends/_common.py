"""Pieces the built-in backends share beyond the package's helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

from entrypoint.backends import WORKER, Launch, Word, extra_words, process_var, user_words
from entrypoint.logs import options
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError
from entrypoint.warmup import replay


def no_app(process: Process, hint: str) -> None:
    """Refuse an APP the backend would silently ignore."""
    if process.app is not None:
        raise ConfigError(f"{process_var(process, 'APP')} is set but backend {process.backend} takes no app: "
                          f"remove it ({hint})")


def django_command(process: Process, command: Sequence[str], extra: Sequence[str], kind: str = WORKER) -> Launch:
    """`python manage.py COMMAND ...` when ./manage.py exists, else `python -m django COMMAND ...`."""
    runner = ["manage.py"] if os.path.isfile("manage.py") else ["-m", "django"]
    head = [Word(sys.executable, f"backend {process.backend}")]
    head += [Word(w, f"backend {process.backend}") for w in [*runner, *command]]
    return Launch([*head, *user_words(process), *extra_words(extra)], kind)


# A management command run by a module of prod-entry's (`python -m MODULE manage.py COMMAND ...`), for what only
# code in the command's own process can do once Django is set up: the heartbeat of huey's and django-tasks'
# workers, which have no hook prod-entry could name on their command line; django-q2's JSON logs.

def run_by(launch: Launch, module: str, purpose: str) -> Launch:
    """The django_command Launch with `-m MODULE` after the interpreter; MODULE calls run_django_command."""
    runner = [Word("-m", purpose), Word(module, purpose)]
    return launch._replace(words=[launch.words[0], *runner, *launch.words[1:]])


def run_django_command(args: list[str], after_setup: Callable[[], object]) -> None:
    """`manage.py ARGS` (run as Python runs it) or `-m django ARGS`, calling `after_setup` once django.setup()
    has returned (the apps are ready; the command has not started)."""
    import runpy

    import django

    setup = django.setup

    def setup_then(*given: object, **named: object) -> None:
        setup(*given, **named)  # type: ignore[arg-type]
        after_setup()

    django.setup = setup_then  # type: ignore[assignment]
    if args[:2] == ["-m", "django"]:
        sys.argv = ["django", *args[2:]]
        runpy.run_module("django", run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(args)
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))  # as `python manage.py` puts its folder first
        runpy.run_path(args[0], run_name="__main__")


# Per-worker warmup through a wrapper app (entrypoint/warmup/asgi.py, warmup/wsgi.py), for servers with no
# per-worker hook that load the app in each worker.

ASGI_WRAPPER = "entrypoint.warmup.asgi"
WSGI_WRAPPER = "entrypoint.warmup.wsgi"


def wrapped(launch: Launch, module: str, how: str | None, purpose: str = "warmup") -> Launch:
    """The Launch with its app word swapped for `module:app` (`module:factory` for a factory); `how` is the
    per-worker warmup it wires in, None for a wrapper for another `purpose` (JSON logs). Once only."""
    wrapper = f"{module}:{'factory' if is_factory(launch) else 'app'}"
    if wrapper in launch.argv:
        return launch._replace(worker_warmup=how or launch.worker_warmup)
    words = list(launch.words)
    at = next(i for i, word in enumerate(words) if i and word.text == launch.app)
    words[at] = Word(wrapper, f"{purpose} wrapper serving {words[at].text} ({words[at].origin})")
    return launch._replace(words=words, worker_warmup=how or launch.worker_warmup)


def is_wrapped(launch: Launch, module: str) -> bool:
    return any(text.startswith(module + ":") for text in launch.argv[1:])


def export_wrapped(launch: Launch, when: str, logger: str) -> None:
    """Tell the wrapper, through the environment exec passes on, what to wrap and when to replay."""
    assert launch.app is not None
    replay.export_wrapped(launch.app, is_factory(launch), when, logger)


def export_wrapped_access(env: Mapping[str, str], launch: Launch) -> None:
    """With JSON access records on and the ASGI wrapper serving, tell it to write them (the server's own are
    turned off or lack the schema's fields)."""
    if options.enabled(env) and options.access_enabled(env) and is_wrapped(launch, ASGI_WRAPPER):
        os.environ[options.WRAPPED_ACCESS_VAR] = options.ACCESS_LOGGER


def is_factory(launch: Launch) -> bool:
    return launch.factory or "--factory" in launch.argv
