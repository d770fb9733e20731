"""Requests sent to a WSGI or ASGI application in memory, through the full protocol, as a server would.

Used by the warmup before exec and by the gunicorn hook inside every worker. A WSGI app gets a complete
PEP 3333 environ (so WSGI middleware such as WhiteNoise or Sentry's wrapper work, unlike Django's
`get_response` shortcut); an ASGI app gets lifespan startup/shutdown when it supports them and `http` scopes.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

from entrypoint.settings.error_lines import last_line

USER_AGENT = "prod-entry-warmup"
_TAG = re.compile(r"<head>.*?<title>|</title>.*?</head>|<[^>]*>", re.S | re.I)


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def summary(self) -> str:
        """The body as one line, for error messages. An HTML page: its first line of text (markup stripped),
        the heading, as its last lines are footers (Django's debug page ends in advice about DEBUG). JSON:
        compacted. Plain text, a traceback (Starlette's debug 500): error_lines.last_line."""
        text = self.body[:8192].decode("utf-8", "replace")
        kind = (self.header("content-type") or "").split(";")[0].strip().lower()
        if kind == "text/html" or (not kind and text.lstrip()[:1] == "<"):
            line = next((ln.strip() for ln in _TAG.sub("\n", text).splitlines() if ln.strip()), "")
        elif kind.endswith("json"):
            try:
                line = json.dumps(json.loads(text), ensure_ascii=False)
            except ValueError:  # not JSON after all, or cut off at 8 KiB
                line = last_line(text)
        else:
            line = last_line(text)
        return line[:200] or "(empty body)"


class LifespanFailed(RuntimeError):
    """The app answered lifespan.startup.failed or lifespan.shutdown.failed; `text` is its message, which
    may be a whole traceback (Starlette sends one)."""

    def __init__(self, phase: str, text: str) -> None:
        super().__init__(f"ASGI lifespan {phase} failed: {text}")
        self.phase, self.text = phase, text


class Target(NamedTuple):
    """How requests address the app: the Host header, the scheme, the server's port, and the headers every
    request carries (PROD_ENTRY_WARMUP_HEADERS: Authorization and the like)."""

    host: str
    port: int
    scheme: str = "http"
    headers: tuple[tuple[str, str], ...] = ()


def _split(path: str) -> tuple[str, str]:
    raw, _, query = path.partition("?")
    return raw, query


def wsgi_environ(path: str, target: Target) -> dict[str, Any]:
    raw, query = _split(path)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        # PEP 3333: the undecoded path bytes, as a latin-1 string
        "PATH_INFO": unquote_to_bytes(raw).decode("latin-1"),
        "QUERY_STRING": query,
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "",
        "SERVER_NAME": target.host,
        "SERVER_PORT": str(target.port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "HTTP_HOST": target.host,
        "HTTP_USER_AGENT": USER_AGENT,
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": target.scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if target.scheme == "https":
        environ["HTTPS"] = "on"
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
    for name, value in target.headers:
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value  # CGI: no HTTP_ for that one
    return environ


def wsgi_get(app: Callable[..., Iterable[bytes]], path: str, target: Target) -> Response:
    """GET `path` from a WSGI app: start_response honoured, the body iterated and close()d."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return written.append

    result = app(wsgi_environ(path, target), start_response)
    try:
        for chunk in result:
            written.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return Response(int(str(started[0]).split()[0]), list(started[1]), b"".join(written))


class AsgiClient:
    """An ASGI app driven on a private event loop: `start()` (lifespan), `get(path)`..., `stop()`."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.lifespan = Lifespan(app)

    @property
    def state(self) -> dict[str, Any]:
        return self.lifespan.state

    def start(self) -> None:
        self.loop.run_until_complete(self.lifespan.start())

    def get(self, path: str, target: Target) -> Response:
        return self.loop.run_until_complete(asgi_get(self.app, path, target, self.state))

    def stop(self) -> None:
        try:
            self.loop.run_until_complete(self.lifespan.stop())
        finally:
            self.loop.close()


class Lifespan:
    """An app's lifespan protocol, driven on the running event loop: `await start()`, then `await stop()`. In
    `scope` (a server's own lifespan scope, whose state its requests carry), else one of ours."""

    def __init__(self, app: Callable[..., Any], scope: dict[str, Any] | None = None) -> None:
        self.app = app
        self.scope = scope or {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self.state: dict[str, Any] = self.scope.setdefault("state", {})
        self.task: asyncio.Future | None = None  # the app's lifespan call, while it speaks the protocol
        self.to_app: asyncio.Queue = asyncio.Queue()
        self.from_app: asyncio.Queue = asyncio.Queue()

    async def start(self) -> None:
        """Raises LifespanFailed for lifespan.startup.failed."""
        self.task = asyncio.ensure_future(self.app(self.scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "lifespan.startup"})
        message = await self._reply()
        if message is None:
            # The app does not speak lifespan (Django raises for it): servers carry on without, and so do we.
            self.task = None
        elif message["type"] == "lifespan.startup.failed":
            raise LifespanFailed("startup", str(message.get("message", "")))

    async def stop(self) -> None:
        """Nothing when the app was not started or does not speak lifespan; raises LifespanFailed for
        lifespan.shutdown.failed."""
        if self.task is None:
            return
        await self.to_app.put({"type": "lifespan.shutdown"})
        message = await self._reply()
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            raise LifespanFailed("shutdown", str(message.get("message", "")))

    async def _reply(self) -> dict | None:
        assert self.task is not None
        reply = asyncio.ensure_future(self.from_app.get())
        await asyncio.wait({reply, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        reply.cancel()
        if not self.task.cancelled():
            self.task.exception()  # retrieve it, so asyncio does not log "exception never retrieved"
        return None


async def asgi_get(app: Callable[..., Any], path: str, target: Target, state: dict[str, Any]) -> Response:
    """GET `path` from an ASGI app in an `http` scope carrying the lifespan `state`."""
    raw, query = _split(path)
    request_headers = [(b"host", target.host.encode("idna")), (b"user-agent", USER_AGENT.encode()),
                       (b"accept", b"*/*")]
    if target.scheme == "https":
        request_headers.append((b"x-forwarded-proto", b"https"))
    request_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in target.headers]
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": target.scheme, "path": unquote_to_bytes(raw).decode("utf-8", "replace"),
        "raw_path": raw.encode("latin-1", "replace"), "query_string": query.encode("latin-1", "replace"),
        "root_path": "", "headers": request_headers, "client": ("127.0.0.1", 0), "server": (target.host, target.port),
        "state": dict(state),
    }
    done = asyncio.Event()
    sent_request = False
    status: list[int] = []
    headers: list[tuple[str, str]] = []
    body: list[bytes] = []

    async def receive() -> dict:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client "disconnects" only once the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            headers.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    if not status:
        raise RuntimeError("the ASGI app returned without sending http.response.start")
    return Response(status[0], headers, b"".join(body))
