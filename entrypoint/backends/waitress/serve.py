"""waitress-serve, with a draining TERM and the warmup replayed in the serving process.

`python -m entrypoint.backends.waitress.serve [waitress-serve options] APP` parses its command line with
waitress's own runner, so every waitress-serve option works unchanged. Two differences:

- waitress installs no TERM handler, so TERM kills it with the requests in flight (and INT cancels what has
  not finished within 5 s). Here TERM closes the listening sockets (new connections are refused), lets the
  main loop run until every request in flight is answered and sent, closes idle keep-alive connections,
  then exits 0. A second TERM changes nothing; INT still stops at once, as in waitress-serve. The drain has
  no bound of its own: PROD_ENTRY_STOP_TIMEOUT or the orchestrator's KILL bound it.
- the warmup prod-entry hands over runs here first (handover.here), before waitress's runner imports the app:
  the app is loaded once, by the warmup, and a broken one exits 3 with one line before anything is bound.
  Where prod-entry warmed up in a child before exec instead, the warmup requests (the plan it exports) are
  replayed against the app, in this process, before it binds.
- with PROD_ENTRY_LOG_FORMAT=json the process's console logging is JSON (set up once the app has loaded, in
  place of waitress's logging.basicConfig()), and Accessed writes the access records waitress has none of.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

from entrypoint.logs import options

log = logging.getLogger("waitress")


def serve(app: Any, **kw: Any) -> None:
    from waitress import wasyncore
    from waitress.server import MultiSocketServer, create_server

    from entrypoint.logs import jsonlog

    if options.enabled():  # the app has loaded (Django applied the project's LOGGING): its console lines JSON
        jsonlog.configure()
        if options.access_enabled():
            app = Accessed(app)
    else:
        logging.basicConfig()  # as waitress.serve() does
    replay_warmup(app)
    server = create_server(app, **kw)
    server.print_listen("Serving on http://{}:{}")
    socket_map = server.map if isinstance(server, MultiSocketServer) else server._map
    stopping: list[int] = []

    def term(signum: int, frame: Any) -> None:
        stopping.append(signum)
        wake(socket_map)  # out of poll() now, not at its timeout

    signal.signal(signal.SIGTERM, term)
    adj = server.adj
    try:
        while not stopping:
            wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=socket_map, use_poll=adj.asyncore_use_poll, count=1)
        drain(socket_map, adj)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(socket_map)


def wake(socket_map: dict) -> None:
    from waitress.trigger import trigger

    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, trigger):
            dispatcher.pull_trigger()  # without a thunk: takes no lock, safe in a signal handler


def drain(socket_map: dict, adj: Any) -> None:
    """Stop accepting; run the loop until every connection has been answered and closed."""
    from waitress import wasyncore
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer

    for listener in [d for d in socket_map.values() if isinstance(d, BaseWSGIServer)]:
        listener.accepting = False
        wasyncore.dispatcher.close(listener)  # only the socket: BaseWSGIServer.close() also closes the trigger
    busy = [c for c in socket_map.values() if isinstance(c, HTTPChannel) and c.requests]
    log.info("prod-entry: SIGTERM: no longer accepting; finishing %d request(s) in flight", len(busy))
    while True:
        channels = [c for c in socket_map.values() if isinstance(c, HTTPChannel)]
        if not channels:
            return
        for channel in channels:
            # Answered and sent: close it (a keep-alive client reconnects elsewhere). A request still being
            # read has not reached the app yet: closed as well.
            if not channel.requests and not channel.total_outbufs_len:
                channel.will_close = True
        wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=socket_map, use_poll=adj.asyncore_use_poll, count=1)


class Accessed:
    """One JSON access record per request (waitress writes none of its own), once the response is sent: when
    waitress closes the body, as WSGI servers do."""

    def __init__(self, app: Any) -> None:
        from entrypoint.logs import jsonlog

        self.app = app
        self.log = logging.getLogger(options.ACCESS_LOGGER)
        if not self.log.handlers:  # on stdout as servers write access lines, not through the root logger's level
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(jsonlog.JsonFormatter())
            self.log.addHandler(handler)
        self.log.setLevel(logging.INFO)
        self.log.propagate = False

    def __call__(self, environ: dict, start_response: Any) -> Any:
        started = time.perf_counter()
        status: list[int | None] = [None]

        def start(line: str, headers: list, *exc_info: Any) -> Any:
            code = line.split(None, 1)[0]
            status[0] = int(code) if code.isdigit() else None
            return start_response(line, headers, *exc_info)

        try:
            body = self.app(environ, start)
        except Exception:
            self.record(environ, status[0] or 500, started)  # waitress answers 500 for an app that raised
            raise
        from waitress.buffers import ReadOnlyFileBasedBuffer

        if isinstance(body, ReadOnlyFileBasedBuffer):  # wsgi.file_wrapper: waitress sends the file itself, later;
            self.record(environ, status[0], started)  # wrapping it would lose that, so the record is written now
            return body

        def done() -> None:
            self.record(environ, status[0], started)

        return _SizedBody(body, done) if hasattr(body, "__len__") else _Body(body, done)

    def record(self, environ: dict, status: int | None, started: float) -> None:
        from entrypoint.logs import jsonlog

        jsonlog.log_access(self.log, environ.get("REQUEST_METHOD", "-"), environ.get("REQUEST_URI") or
                           environ.get("PATH_INFO", ""), status, (time.perf_counter() - started) * 1000,
                           environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT"), environ.get("HTTP_X_REQUEST_ID"))


class _Body:
    """The app's response body, unchanged, with `done` called once when waitress closes it."""

    def __init__(self, body: Any, done: Any) -> None:
        self.body, self.done = body, done

    def __iter__(self) -> Any:
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done()


class _SizedBody(_Body):
    """A body with a length (a list of chunks): waitress sets Content-Length from a one-chunk body's length."""

    def __len__(self) -> int:
        return len(self.body)


def replay_warmup(app: Any) -> None:
    from entrypoint.warmup import replay

    plan = replay.load()
    if plan is None:
        return
    from entrypoint.warmup.appclient import wsgi_get

    replay.replay(plan, lambda path: wsgi_get(app, path, plan.target).status,
                         replay.Log(log.info, log.warning))


def main() -> int:
    from waitress.runner import run

    from entrypoint.warmup import handover

    handover.here("waitress's process")
    return run(argv=["waitress-serve", *sys.argv[1:]], _serve=serve) or 0


if __name__ == "__main__":
    if os.getcwd() not in sys.path:  # waitress-serve appends it too, but after this module's own imports
        sys.path.append(os.getcwd())
    sys.exit(main())
