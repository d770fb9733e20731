"""gunicorn serving a WSGI app: `gunicorn --bind=0.0.0.0:$PORT [ARGS] APP [EXTRA]`."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import WEB, Launch, Word, extra_words, port, process_var, program, split_bind, user_words
from entrypoint.config import Process
from entrypoint.django_settings import application
from entrypoint.errors import ConfigError


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "WSGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE WSGI_APPLICATION")
    given = user_words(process) + extra_words(extra)
    # GUNICORN_CMD_ARGS is gunicorn's own; a bind there must not be overridden by ours.
    try:
        texts = [w.text for w in given] + shlex.split(env.get("GUNICORN_CMD_ARGS", ""))
    except ValueError as exc:
        raise ConfigError(f"GUNICORN_CMD_ARGS cannot be split like a command line ({exc}): fix its quoting") \
            from None
    defaults = []
    if not argv.mentions(texts, "--bind", "-b"):
        defaults.append(Word(f"--bind=0.0.0.0:{port(env)}", "default (0.0.0.0 and PORT, else 8000)"))
        texts.append(defaults[0].text)
    words = [Word(program("gunicorn"), "backend gunicorn"), *defaults, *user_words(process),
             Word(app, app_origin), *extra_words(extra)]
    return Launch(words, WEB, app, "wsgi", split_bind(argv.option_value(texts, "--bind", "-b")))
