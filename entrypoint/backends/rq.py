"""An RQ worker: `rq worker [--url=$REDIS_URL] [ARGS] [QUEUES...]`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import WORKER, Launch, Word, extra_words, program, user_words
from entrypoint.backends._common import no_app
from entrypoint.config import Process


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "queue names go in ARGS or on the command line")
    given = user_words(process) + extra_words(extra)
    defaults = []
    if env.get("REDIS_URL") and not argv.mentions([w.text for w in given], "--url", "-u"):
        defaults.append(Word(f"--url={env['REDIS_URL']}", "env REDIS_URL"))
    return Launch([Word(program("rq"), "backend rq"), Word("worker", "backend rq"), *defaults, *given], WORKER)
