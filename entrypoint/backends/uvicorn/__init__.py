"""uvicorn serving an ASGI app (or a WSGI one with `--interface wsgi`):
`uvicorn --host=0.0.0.0 --port=$PORT [ARGS] APP [EXTRA]`, and its per-worker warmup: uvicorn has no hooks,
so the app word becomes the shared ASGI wrapper, which replays the warmup during lifespan startup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import _common
from entrypoint.backends import WEB, Launch, Word, extra_words, port, process_var, program, user_words
from entrypoint.config import Process
from entrypoint.django_settings import application
from entrypoint.worker_warmup import LIFESPAN


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    given = user_words(process) + extra_words(extra)
    texts = [w.text for w in given]
    interface = "wsgi" if argv.option_value(texts, "--interface") == "wsgi" else "asgi"
    setting = "WSGI_APPLICATION" if interface == "wsgi" else "ASGI_APPLICATION"
    app = process.app or application(env, setting, process_var(process, "APP"))
    app_origin = process.origins.get("app", f"DJANGO_SETTINGS_MODULE {setting}")
    elsewhere = argv.mentions(texts, "--uds", "--fd")
    defaults = []
    # UVICORN_HOST / UVICORN_PORT are uvicorn's own; never override them.
    if not (elsewhere or argv.mentions(texts, "--host") or "UVICORN_HOST" in env):
        defaults.append(Word("--host=0.0.0.0", "default"))
    if not (elsewhere or argv.mentions(texts, "--port") or "UVICORN_PORT" in env):
        defaults.append(Word(f"--port={port(env)}", "default (PORT, else 8000)"))
    texts += [w.text for w in defaults]
    bind = None
    if not elsewhere:
        host = argv.option_value(texts, "--host") or env.get("UVICORN_HOST", "127.0.0.1")
        number = argv.option_value(texts, "--port") or env.get("UVICORN_PORT", "8000")
        bind = (host, int(number)) if number.isdigit() else None
    words = [Word(program("uvicorn"), "backend uvicorn"), *defaults, *user_words(process),
             Word(app, app_origin), *extra_words(extra)]
    return Launch(words, WEB, app, interface, bind,
                  lifespan=argv.option_value(texts, "--lifespan") != "off")


# --- per-worker warmup: the shared ASGI wrapper (entrypoint/asgi_wrapper.py), replaying in lifespan startup --

def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """The app word swapped for `entrypoint.asgi_wrapper:app` (`:factory` with --factory). Not with
    `--interface wsgi` or `--lifespan off`: there is no startup to replay in."""
    if launch.interface != "asgi" or not launch.lifespan:
        return None
    return _common.wrapped(launch, _common.ASGI_WRAPPER, "lifespan startup of a wrapper app")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    _common.export_wrapped(launch, LIFESPAN, "uvicorn.error")
