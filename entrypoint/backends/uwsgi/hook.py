"""Imported by uWSGI (`--import=entrypoint.backends.uwsgi.hook`, added by prod-entry): registers, through
uwsgidecorators (shipped with pyuwsgi and uWSGI, and which chains every postfork function, yours included),
a postfork function that replays the warmup requests in every worker before it accepts a request. With
--lazy-apps uWSGI imports this module in each worker, after the postfork functions ran: then the replay
happens at once, on import. The app (PROD_ENTRY_UWSGI_APP) is the one uWSGI loads: its module is already
imported, or is imported here first (uWSGI then finds it in sys.modules). A failed replay is logged, never
fatal.

With PROD_ENTRY_LOG_FORMAT=json each worker also makes its Python logging JSON (jsonlog.configure(), after the
app, and so Django's LOGGING, has loaded): the app's records are JSON lines; uWSGI's own lines stay text."""

from __future__ import annotations

import os
import sys

import uwsgi
from uwsgidecorators import postfork

from entrypoint.backends.uwsgi import APP_VAR
from entrypoint.logs import jsonlog, options
from entrypoint.warmup import replay


def _log(message: str, *args: object) -> None:
    if options.enabled():
        jsonlog.say("info", "prod-entry", message % args)
    else:
        print(message % args, file=sys.stderr, flush=True)  # uWSGI logs its workers' stderr


def in_worker() -> None:
    if options.enabled():
        jsonlog.configure()
    _replay()


def _replay() -> None:
    plan = replay.load()
    spec = os.environ.get(APP_VAR)
    if plan is None or not spec:
        return
    from entrypoint.warmup.appclient import wsgi_get
    from entrypoint.warmup.gate import load_app

    app = load_app(spec)
    replay.replay(plan, lambda path: wsgi_get(app, path, plan.target).status, replay.Log(_log, _log))


if uwsgi.worker_id() > 0:  # imported in a worker: --lazy-apps
    in_worker()
else:
    postfork(in_worker)
