"""waitress serving a WSGI app: `python -m entrypoint.backends.waitress.serve --listen=0.0.0.0:$PORT [ARGS] [EXTRA]
APP`, waitress-serve's own command line (same options, same parser) run by serve.py, which adds the one
thing waitress-serve lacks: TERM drains (stop accepting, finish the requests in flight, exit 0) instead of
dying at once with them. waitress is one process, and serve.py runs the warmup prod-entry hands over in it
(handover.here) before waitress's runner imports the app: the app is loaded once, and the process that passed the
warmup is the one that serves. Where the warmup ran in a child before exec instead (`prod-entry check` never
execs), serve.py replays its requests in the serving process, after it imported the app and before it binds."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import WEB, Launch, Word, extra_words, port, process_var, split_bind, user_words
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application

RUNNER = "entrypoint.backends.waitress.serve"
WARMUP_IN = "waitress's process (serve.py, before waitress imports the app), before it binds"


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "WSGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE WSGI_APPLICATION")
    texts = [w.text for w in user_words(process) + extra_words(extra)]
    defaults = []
    # waitress reads no environment variables or config file: only its command line can set the address.
    if not argv.mentions(texts, "--listen", "--unix-socket"):
        if not argv.mentions(texts, "--host", "--port"):
            defaults.append(Word(f"--listen=0.0.0.0:{port(env)}", "default (0.0.0.0 and PORT, else 8000)"))
        elif not argv.mentions(texts, "--port"):  # --host alone: waitress's own port default is 8080
            defaults.append(Word(f"--port={port(env)}", "default (PORT, else 8000)"))
    texts += [w.text for w in defaults]
    head = [Word(sys.executable, "backend waitress"),
            Word("-m", "backend waitress"), Word(RUNNER, "backend waitress (waitress-serve, with a draining TERM)")]
    # EXTRA before the app: waitress's option parser stops at the first word that is not an option.
    words = [*head, *defaults, *user_words(process), *extra_words(extra), Word(app, app_origin)]
    # --call: APP is a factory waitress calls for the WSGI app; the warmup must call it too.
    return Launch(words, WEB, app, "wsgi", bind(texts), factory="--call" in texts, warmup_in=WARMUP_IN)


def bind(texts: list[str]) -> tuple[str, int] | None:
    listen = argv.option_value(texts, "--listen")
    if listen:
        found = split_bind(listen.replace("*:", "0.0.0.0:", 1) if listen.startswith("*:") else listen)
        return found
    if argv.mentions(texts, "--unix-socket"):
        return None
    number = argv.option_value(texts, "--port") or "8080"
    return (argv.option_value(texts, "--host") or "0.0.0.0", int(number)) if number.isdigit() else None


def warm_in_server(env: Mapping[str, str], launch: Launch) -> Launch:
    """No words to change: serve.py calls handover.here first, in the one process that will serve."""
    return launch


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """No words to change: serve.py replays the plan warmup/gate.py exports, in the one serving process. Nothing to
    replay where the warmup itself runs in that process (warmup_in)."""
    if launch.interface != "wsgi" or launch.warmup_in:
        return None
    return launch._replace(worker_warmup="in the serving process, before it binds")
