"""The ASGI app a server serves in place of yours when per-worker warmup is on, for servers that have no
per-worker hook (uvicorn, hypercorn, granian, daphne): prod-entry swaps the app word for
`entrypoint.warmup.asgi:app` (`:factory` where the server calls a factory) and names your app in
replay.APP_VAR. It is your app, plus one thing: every worker replays the warmup requests before it
serves, at the moment replay.REPLAY_VAR says:

- LIFESPAN: during the lifespan startup the server awaits before it serves (uvicorn, hypercorn, granian
  asgi). Your app's own lifespan runs first and its state reaches the replayed requests; an app without
  lifespan support (Django's) is given the protocol here. Where prod-entry handed the warmup itself over to
  this process (uvicorn with one worker: handover.InServer), there is no replay: your app is loaded for the
  warmup when the server imports this module, and the lifespan startup runs the warmup's checks on the
  server's event loop, before the server binds; a failure ends the process with the start's one line, exit 3.
- IMPORT: when the server imports this module in the worker, before it listens or serves (daphne and
  granian asginl send no lifespan). The requests run on a private event loop in a thread of their own, so the
  server's loop (daphne's Twisted reactor has already installed one) is left as it was.

A failed replay is logged, never fatal. Where prod-entry handed the warmup over to the server's process (daphne:
Launch.warmup_in), the wrapper runs it (handover.here) before it loads your app, in place of the replay: the app is
loaded once, by the warmup, and a broken one exits 3 before the server listens.

With PROD_ENTRY_LOG_FORMAT=json the wrapper also serves JSON logs (jsonlog.py): once your app is loaded (and
Django has applied the project's LOGGING) it makes the console handlers JSON, and, when
options.WRAPPED_ACCESS_VAR names the server's access logger, it writes one access record per request itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from entrypoint.logs import jsonlog, options
from entrypoint.warmup import replay
from entrypoint.warmup.appclient import Lifespan, LifespanFailed, asgi_get
from entrypoint.warmup.gate import load_app
from entrypoint.warmup.handover import InServer, here


class Warmed:
    def __init__(self, inner: Any, replay_in_lifespan: bool = True, warmup: InServer | None = None) -> None:
        self.inner = inner
        self.replay_in_lifespan = replay_in_lifespan
        self.warmup = warmup  # handed over and loaded: its checks run in the first lifespan startup

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan" or not self.replay_in_lifespan:
            await self.inner(scope, receive, send)
            return
        if self.warmup is not None:
            warmup, self.warmup = self.warmup, None
            await self.warm_up(warmup, scope, receive, send)
            return
        state = scope.setdefault("state", {})
        startup_seen = False
        startup_answered = False

        async def inner_receive() -> dict:
            nonlocal startup_seen
            message = await receive()
            startup_seen = startup_seen or message["type"] == "lifespan.startup"
            return message

        async def inner_send(message: dict) -> None:
            nonlocal startup_answered
            if message["type"] == "lifespan.startup.complete":
                await self.replay(state)
            startup_answered = startup_answered or message["type"].startswith("lifespan.startup.")
            await send(message)

        try:
            await self.inner(scope, inner_receive, inner_send)
            return
        except Exception:
            if startup_answered:
                raise
        # The app does not speak lifespan (it raised before answering startup): speak it for the app.
        if not startup_seen:
            await receive()
        await self.replay(state)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})

    async def warm_up(self, warmup: InServer, scope: dict, receive: Any, send: Any) -> None:
        """The lifespan, driven here: your app's startup and the warmup's checks (which exit the process on
        failure) before the server hears startup.complete; at shutdown, your app's."""
        lifespan = Lifespan(self.inner, scope)
        await receive()  # lifespan.startup
        await warmup.check(lifespan)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await lifespan.stop()
        except LifespanFailed as exc:
            await send({"type": "lifespan.shutdown.failed", "message": exc.text})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def replay(self, state: dict) -> None:
        plan = replay.load()
        if plan is None:
            return

        async def get(path: str) -> int:
            return (await asgi_get(self.inner, path, plan.target, state)).status

        await replay.replay_async(plan, get, replay.server_log())

    def replay_now(self) -> None:
        """Replay at once, on a private loop in another thread (see IMPORT above)."""
        thread = threading.Thread(target=lambda: asyncio.run(self.replay({})), name="prod-entry-warmup")
        thread.start()
        thread.join()


class Accessed:
    """One access record per HTTP request, with jsonlog's fields, written when the response is done."""

    def __init__(self, inner: Any, logger: str) -> None:
        import logging
        import sys

        self.inner = inner
        self.log = logging.getLogger(logger)
        # Not the server's own access logger (uvicorn writes its own lines once that has a handler): ours, on
        # stdout as servers write access lines, not through the root logger and its level.
        if not self.log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(jsonlog.JsonFormatter())
            self.log.addHandler(handler)
        self.log.setLevel(logging.INFO)
        self.log.propagate = False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def inner_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.inner(scope, receive, inner_send)
        except Exception:
            status = status or 500  # what the server answers for an app that raised before it responded
            raise
        finally:
            headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                       for name, value in scope.get("headers", [])}
            path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            if scope.get("query_string"):
                path += "?" + scope["query_string"].decode("latin-1")
            client = scope.get("client")
            jsonlog.log_access(self.log, scope.get("method", "-"), path, status,
                               (time.perf_counter() - started) * 1000, client[0] if client else None,
                               headers.get("user-agent"), headers.get("x-request-id"))


def _wrap(factory: bool) -> Warmed:
    lifespan = os.environ.get(replay.REPLAY_VAR, replay.LIFESPAN) == replay.LIFESPAN
    server = f"{(os.environ.get(replay.LOGGER_VAR) or 'the server').split('.')[0]}'s process"
    warmup = InServer.taken(f"{server} (lifespan startup)") if lifespan else None
    if not lifespan:  # daphne: no lifespan to wait in; the handed-over warmup runs as daphne imports the app
        here(server)
    # The handed-over plan names the same app and factory as APP_VAR and FACTORY_VAR.
    inner = warmup.load() if warmup else load_app(os.environ[replay.APP_VAR], factory=factory)
    if options.enabled():
        jsonlog.configure()
    if os.environ.get(options.WRAPPED_ACCESS_VAR):
        inner = Accessed(inner, os.environ[options.WRAPPED_ACCESS_VAR])
    warmed = Warmed(inner, lifespan, warmup)
    if not lifespan:
        warmed.replay_now()
    return warmed


def factory() -> Warmed:
    return _wrap(factory=True)


app = None if os.environ.get(replay.FACTORY_VAR) == "1" else _wrap(factory=False)
