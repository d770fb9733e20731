"""The ASGI app uvicorn serves in place of yours when worker warmup is on (prod-entry swaps the app word for
`entrypoint.backends.uvicorn.app:app`, or `:factory` with `--factory`). It is your app, plus one thing: during
lifespan startup, which uvicorn awaits before it serves, every worker replays the warmup requests.

uvicorn has no per-worker hook, so this is the equivalent of the gunicorn hook. Your app's own lifespan runs
first and its state reaches the replayed requests; an app without lifespan support (Django's) is given the
protocol here. A failed replay is logged, never fatal.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from entrypoint import worker_warmup
from entrypoint.appclient import asgi_get
from entrypoint.backends.uvicorn import APP_VAR, FACTORY_VAR
from entrypoint.warmup import load_app

log = logging.getLogger("uvicorn.error")


class Warmed:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.inner(scope, receive, send)
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

    async def replay(self, state: dict) -> None:
        plan = worker_warmup.load()
        if plan is None:
            return

        async def get(path: str) -> int:
            return (await asgi_get(self.inner, path, plan.target, state)).status

        await worker_warmup.replay_async(plan, get, worker_warmup.Log(log.info, log.warning))


def factory() -> Warmed:
    return Warmed(load_app(os.environ[APP_VAR], factory=True))


app = None if os.environ.get(FACTORY_VAR) == "1" else Warmed(load_app(os.environ[APP_VAR]))
