"""An RQ worker: `rq worker [--url=$REDIS_URL] [--worker-class=entrypoint.health.heartbeats.rq.Worker] [ARGS] [QUEUES...]`
(the worker class keeps prod-entry's heartbeat file fresh: see entrypoint/health/heartbeats/rq.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, WORKER, Launch, Word, extra_words, program, user_words
from entrypoint.backends._common import no_app
from entrypoint.settings import argv
from entrypoint.settings.config import Process

WORKER_CLASS = "entrypoint.health.heartbeats.rq.Worker"
PROBE = HEARTBEAT
HEARTBEAT_HINT = (f"prod-entry passes --worker-class={WORKER_CLASS}; a worker class of your own must inherit "
                  "entrypoint.health.heartbeats.rq.HeartbeatMixin")


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "queue names go in ARGS or on the command line")
    given = user_words(process) + extra_words(extra)
    defaults = []
    texts = [w.text for w in given]
    if env.get("REDIS_URL") and not argv.mentions(texts, "--url", "-u"):
        defaults.append(Word(f"--url={env['REDIS_URL']}", "env REDIS_URL"))
    # RQ_WORKER_CLASS is rq's own; never override a worker class the user chose.
    if not (argv.mentions(texts, "--worker-class", "-w") or "RQ_WORKER_CLASS" in env):
        defaults.append(Word(f"--worker-class={WORKER_CLASS}", "default (the heartbeat for healthcheck)"))
    return Launch([Word(program("rq"), "backend rq"), Word("worker", "backend rq"), *defaults, *given], WORKER)
