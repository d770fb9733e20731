"""uWSGI serving a WSGI app (the `uwsgi` program of the pyuwsgi wheel, or of a compiled uWSGI):
`uwsgi --master --http-socket=0.0.0.0:$PORT --need-app --hook-master-start=... [ARGS] --module=APP [EXTRA]`,
and everything prod-entry knows about uWSGI: its stop signals, its own options from the environment and ini
files, the warmup in its master (serve.py, which calls pyuwsgi.run() after it) and its per-worker warmup
(hook.py, a module each worker runs after fork through `--import`).

Stopping: uWSGI 2.0's master takes TERM as a *brutal reload* (`--die-on-term`: a brutal shutdown, workers
killed with their requests); only its master FIFO's `q` is a graceful shutdown. The master-start hook
`unix_signal:15 gracefully_kill_them_all` (uWSGI's own recipe) makes TERM that graceful shutdown: each worker
finishes its request, then the master exits 0. INT stays the brutal shutdown, HUP the graceful reload.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import (WEB, Launch, Setting, Word, extra_words, port, process_var, program, split_bind,
                                 user_words)
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application

GRACEFUL_TERM = "--hook-master-start=unix_signal:15 gracefully_kill_them_all"
# Every option that gives uWSGI a socket to serve on: with any of them set, ours would be a second socket.
SOCKETS = ("--http-socket", "--http11-socket", "--https-socket", "--socket", "-s", "--uwsgi-socket",
           "--suwsgi-socket", "--http", "--https", "--fastcgi-socket", "--scgi-socket", "--raw-socket",
           "--puwsgi-socket", "--shared-socket", "--zerg")
# Config files prod-entry cannot read without uWSGI's own parsers: they may set anything, so no defaults.
OPAQUE_CONFIGS = ("--yaml", "-y", "--yml", "--json", "-j", "--js", "--xml", "-x", "--config")
# Options under which the warmup cannot run before pyuwsgi.run() (see warm_in_server): each worker must load the
# app itself (lazy), or uWSGI changes where the app is imported from only once it runs (directory, import path,
# virtualenv, environment).
MASTER_CANNOT_WARM = ("--lazy-apps", "--lazy", "--chdir", "--chdir2", "--pythonpath", "--python-path", "--pp",
                      "--home", "-H", "--virtualenv", "--venv", "--pyhome", "--env")


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "WSGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE WSGI_APPLICATION")
    texts = [w.text for w in user_words(process) + extra_words(extra)]
    theirs = their_options(texts, env)
    opaque = any(argv.mentions(texts, name) for name in OPAQUE_CONFIGS)

    def given(*names: str) -> bool:
        return opaque or any(argv.mentions(texts, n) or n.lstrip("-") in theirs for n in names)

    # What uWSGI takes from its environment and ini files, for `prod-entry show`: the options ours would set.
    ours = {n.lstrip("-") for n in ("--master", "--need-app", *SOCKETS) if n.startswith("--")}
    shown = tuple(Setting(name, (value,), origin) for name, (value, origin) in theirs.items() if name in ours)

    defaults = []
    if not given("--master", "-M"):
        defaults.append(Word("--master", "default (a master process: graceful stops, worker respawn)"))
    if not given(*SOCKETS):
        defaults.append(Word(f"--http-socket=0.0.0.0:{port(env)}", "default (0.0.0.0 and PORT, else 8000)"))
    if not given("--need-app"):
        defaults.append(Word("--need-app", "default (an app that does not load is a failed start)"))
    defaults.append(Word(GRACEFUL_TERM, "TERM = graceful shutdown (uWSGI's own TERM is a brutal reload)"))
    bind_text = argv.option_value([*texts, *(w.text for w in defaults)], "--http-socket") or \
        theirs.get("http-socket", ("", ""))[0]
    words = [Word(program("uwsgi"), "backend uwsgi"), *defaults, *user_words(process),
             Word(f"--module={app}", app_origin), *extra_words(extra)]
    can_warm = not opaque and not given(*MASTER_CANNOT_WARM) and importlib.util.find_spec("pyuwsgi") is not None
    return Launch(words, WEB, app, "wsgi", None if opaque else split_bind(bind_text), settings=shown,
                  warmup_in=WARMUP_IN if can_warm else None)


def their_options(texts: Sequence[str], env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The options uWSGI takes from outside the command line: UWSGI_<OPTION> variables (uWSGI reads every
    one as --option) and the [uwsgi] section of ini files (--ini, UWSGI_INI, or a bare `file.ini` word).
    Names as on the command line without the dashes -> (value, where); the last value wins."""
    found = {key[len("UWSGI_"):].lower().replace("_", "-"): (value, key) for key, value in env.items()
             if key.startswith("UWSGI_") and len(key) > len("UWSGI_")}
    inis = [t.split("=", 1)[1] for t in texts if t.startswith("--ini=")]
    inis += [texts[i + 1] for i, t in enumerate(texts[:-1]) if t == "--ini"]
    inis += [t for t in texts if t.endswith(".ini") and not t.startswith("-")]
    if env.get("UWSGI_INI"):
        inis.insert(0, env["UWSGI_INI"])
    for path in inis:
        found.update({name: (value, path) for name, value in read_ini(path).items()})
    return found


def read_ini(spec: str) -> dict[str, str]:
    """The options of one uWSGI ini file (`path` or `path:section`, section `uwsgi` by default); nothing
    when it cannot be read (uWSGI then reports it itself)."""
    path, _, section = spec.partition(":") if not os.path.isfile(spec) else (spec, "", "")
    parser = configparser.ConfigParser(strict=False, interpolation=None, allow_no_value=True)
    try:
        parser.read(path)
    except configparser.Error:
        return {}
    name = section or "uwsgi"
    return {k.replace("_", "-"): v or "" for k, v in parser[name].items()} if parser.has_section(name) else {}


# --- the warmup in the master, before uWSGI starts: serve.py --------------------------------------------

WARMUP_IN = "uWSGI's master (serve.py, before pyuwsgi.run), before it binds; the workers fork with the app loaded"
RUNNER = "entrypoint.backends.uwsgi.serve"


def warm_in_server(env: Mapping[str, str], launch: Launch) -> Launch:
    """The program word becomes `python -m entrypoint.backends.uwsgi.serve`, which runs the warmup and then
    pyuwsgi.run() with the same options. Only with pyuwsgi in this Python (a compiled uWSGI embeds its own
    interpreter), and none of MASTER_CANNOT_WARM: what changes against plain uWSGI is that the app is imported
    before uWSGI applies its options, which is why those that change the import keep the child warmup."""
    runner = [Word(sys.executable, "warmup in uWSGI's master"), Word("-m", "warmup in uWSGI's master"),
              Word(RUNNER, "warmup in uWSGI's master (pyuwsgi's uwsgi, after the warmup)")]
    return launch._replace(words=[*runner, *launch.words[1:]])


# --- per-worker warmup: hook.py, imported by uWSGI, registers a postfork function -------------------------

HOOK_MODULE = "entrypoint.backends.uwsgi.hook"
APP_VAR = "PROD_ENTRY_UWSGI_APP"  # the app the hook loads in each worker (the module is already imported)


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """`--import=entrypoint.backends.uwsgi.hook` appended: uWSGI imports it like the app (in the master, or
    in each worker with --lazy-apps), and its postfork function replays the warmup in every worker before
    that worker accepts a request."""
    if launch.interface != "wsgi":
        return None
    return launch._replace(words=[*launch.words, Word(f"--import={HOOK_MODULE}", "warmup hook (postfork)")],
                           worker_warmup="postfork hook")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    assert launch.app is not None
    os.environ[APP_VAR] = launch.app


# --- logs: the app's Python logging as JSON in each worker (hook.py); uWSGI's own lines stay text -----------
#
# uWSGI writes its own lines (banner, worker spawns, request lines) from C. Its log encoders (`--log-encoder
# json ...`, `--log-req-encoder`) can shape them, but they have no variable for the writing process's pid, no
# masking of secrets in a request's path, and they would wrap every JSON line the app writes a second time.


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--import=entrypoint.backends.uwsgi.hook` (once; the warmup adds it too), whose postfork function
    makes each worker's Python logging JSON. Access: uWSGI's own request lines, text (`--disable-logging` with
    PROD_ENTRY_ACCESS_LOG=0, JSON or not, unless ARGS name it)."""
    added = []
    hook = f"--import={HOOK_MODULE}"
    if options.enabled(env) and hook not in launch.argv:
        added.append(Word(hook, "JSON logs (the app's logging, in each worker)"))
    if options.access_setting(env) is False and not argv.mentions(launch.argv, "--disable-logging", "-L"):
        added.append(Word("--disable-logging", "PROD_ENTRY_ACCESS_LOG=0 (no request lines)"))
    return launch._replace(words=[*launch.words, *added]) if added else None


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    assert launch.app is not None
    os.environ[APP_VAR] = launch.app
