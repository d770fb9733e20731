"""Dramatiq: `dramatiq [ARGS] APP entrypoint.health.heartbeats.dramatiq [EXTRA]`, APP being the module(s) that declare the
broker and actors; the last module adds prod-entry's heartbeat middleware (see entrypoint/health/heartbeats/dramatiq.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, WORKER, Launch, Word, extra_words, process_var, program, user_words
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError

HEARTBEAT_MODULE = "entrypoint.health.heartbeats.dramatiq"
PROBE = HEARTBEAT
HEARTBEAT_HINT = ("prod-entry lists entrypoint.health.heartbeats.dramatiq after the broker module; with module:broker, call "
                  "entrypoint.health.heartbeats.dramatiq.install(broker)")


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    if not process.app:
        raise ConfigError(f"{process_var(process, 'APP')} is not set: set it to the module that declares your "
                          "Dramatiq broker and actors (e.g. myproject.tasks)")
    origin = process.origins.get("app", process_var(process, "APP"))
    modules = [Word(m, origin) for m in process.app.split()]
    # Right after the app's modules: the dramatiq CLI takes its modules as one run of positional words.
    modules.append(Word(HEARTBEAT_MODULE, "backend dramatiq (the heartbeat for healthcheck)"))
    return Launch([Word(program("dramatiq"), "backend dramatiq"), *user_words(process), *modules,
                   *extra_words(extra)], WORKER, process.app)
