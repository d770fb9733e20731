"""Dramatiq: `dramatiq [ARGS] APP [EXTRA]`, APP being the module(s) that declare the broker and actors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import WORKER, Launch, Word, extra_words, process_var, program, user_words
from entrypoint.config import Process
from entrypoint.errors import ConfigError


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    if not process.app:
        raise ConfigError(f"{process_var(process, 'APP')} is not set: set it to the module that declares your "
                          "Dramatiq broker and actors (e.g. myproject.tasks)")
    modules = [Word(m, process.origins["app"]) for m in process.app.split()]
    return Launch([Word(program("dramatiq"), "backend dramatiq"), *user_words(process), *modules,
                   *extra_words(extra)], WORKER, process.app)
