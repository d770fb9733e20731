"""Pieces the built-in backends share beyond the package's helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from entrypoint.backends import Launch, Word, WORKER, extra_words, process_var, user_words
from entrypoint.config import Process
from entrypoint.errors import ConfigError


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
