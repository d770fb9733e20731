"""Pieces the built-in backends share beyond the package's helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

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
