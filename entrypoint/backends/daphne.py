"""daphne (Django Channels' server) serving an ASGI app: `daphne --bind=0.0.0.0 --port=$PORT [ARGS] APP
[EXTRA]`, and its warmup.

daphne binds 127.0.0.1:8000 unless told otherwise (`-b/--bind`, `-p/--port`, or instead `-u/--unix-socket`,
`--fd`, `-e/--endpoint`); prod-entry adds each of host and port only when none of those is given. The app is
`module:attr`. daphne runs no ASGI lifespan, so the warmup before exec sends none either.

Warmup in daphne's process: daphne is a single process with no hooks and no lifespan, but it imports the app
(in its main thread) before it listens. So the app word becomes the shared ASGI wrapper, which runs the warmup
prod-entry hands over as it is imported (handover.here), loading the app once; where the warmup ran in a child
before exec instead, the wrapper replays its requests there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import WEB, Launch, Word, _common, extra_words, port, process_var, program, user_words
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application
from entrypoint.warmup.replay import IMPORT


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "ASGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE ASGI_APPLICATION")
    given = user_words(process) + extra_words(extra)
    texts = [w.text for w in given]
    elsewhere = argv.mentions(texts, "--unix-socket", "-u", "--fd", "--endpoint", "-e")
    defaults = []
    if not (elsewhere or argv.mentions(texts, "--bind", "-b")):
        defaults.append(Word("--bind=0.0.0.0", "default"))
    if not (elsewhere or argv.mentions(texts, "--port", "-p")):
        defaults.append(Word(f"--port={port(env)}", "default (PORT, else 8000)"))
    texts += [w.text for w in defaults]
    bind = None
    if not elsewhere:
        number = argv.option_value(texts, "--port", "-p") or ""
        bind = (argv.option_value(texts, "--bind", "-b") or "127.0.0.1", int(number)) if number.isdigit() else None
    words = [Word(program("daphne"), "backend daphne"), *defaults, *user_words(process), Word(app, app_origin),
             *extra_words(extra)]
    return Launch(words, WEB, app, "asgi", bind, lifespan=False, warmup_in=WARMUP_IN)


# --- warmup in daphne's process: the shared ASGI wrapper, as daphne imports it ----------------------------

WARMUP_IN = "daphne's process (the wrapper app, as daphne imports it), before it listens"


def warm_in_server(env: Mapping[str, str], launch: Launch) -> Launch:
    """The wrapper runs the warmup handed over (warmup/asgi.py calls handover.here before it loads the app)."""
    return _common.wrapped(launch, _common.ASGI_WRAPPER, None)


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """The wrapper replays the warmup as daphne imports it; nothing to replay where the warmup itself runs in
    that process (warmup_in)."""
    if launch.warmup_in:
        return None
    return _common.wrapped(launch, _common.ASGI_WRAPPER, "a wrapper app, as daphne imports it")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    _common.export_wrapped(launch, IMPORT, "daphne")  # also prepare_logs' for any wrapped launch, handover included


# --- logs: daphne's root handler made JSON by the ASGI wrapper, which also writes the access records --------

def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--log-fmt=%(message)s`, so that the root handler daphne's logging.basicConfig installs has no
    format of its own and the shared ASGI wrapper (the app word, as for the warmup) makes it JSON as daphne
    imports it, before daphne logs "Starting server at"; the wrapper writes the access records, and daphne's
    own text access lines (stdout at the default verbosity) go to `--access-log=/dev/null`. A --log-fmt or
    --access-log of the user's is kept. Text: PROD_ENTRY_ACCESS_LOG=0 is that `--access-log=/dev/null` (daphne
    has no switch to turn them off but -v 0, which also hides its info lines)."""
    texts = launch.argv
    theirs = argv.mentions(texts, "--access-log")
    added = []
    if options.enabled(env):
        launch = _common.wrapped(launch, _common.ASGI_WRAPPER, None, "JSON logs")
        if not argv.mentions(texts, "--log-fmt"):
            added.append(Word("--log-fmt=%(message)s", "JSON logs (the wrapper app formats daphne's lines)"))
        if not theirs:
            added.append(Word("--access-log=/dev/null", "JSON logs (the wrapper app writes access records)"))
    elif options.access_setting(env) is False and not theirs:
        added.append(Word("--access-log=/dev/null", "PROD_ENTRY_ACCESS_LOG=0"))
    if not added:
        return None
    return launch._replace(words=[launch.words[0], *added, *launch.words[1:]])


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if _common.is_wrapped(launch, _common.ASGI_WRAPPER):
        _common.export_wrapped(launch, IMPORT, "daphne")
    _common.export_wrapped_access(env, launch)
