"""The warmup prod-entry hands over to the server's own process (warmup.hand_over, for a backend that sets
Launch.warmup_in), run there before the server binds: the app is loaded once, for the warmup and for serving
(or for the workers that fork from that process). Called by each server's hook: gunicorn's on_starting
(backends/gunicorn/hook.py), the uWSGI and waitress runners (backends/<server>/serve.py), the ASGI wrapper
(daphne as it imports it; uvicorn's lifespan startup, in two phases on the server's own loop).

A failure ends the process with the start's own line and exit status, at once, with nothing bound."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, NoReturn

from entrypoint.health import rules
from entrypoint.init import state
from entrypoint.warmup.gate import (Loaded, Plan, app_output, failed, handed_over, load_phase, passed,
                                    request_phase_async, run_checks, starting_lifespan, timed_out)

if TYPE_CHECKING:
    from entrypoint.warmup.appclient import Lifespan, Target


def here(where: str) -> None:
    """Run the warmup prod-entry handed over (if any) in this process, the server's, before it binds. Returns
    once it passed, with the worker plan exported for the workers this process starts and the database
    connections it opened closed (forked workers must not share them). Else logs the line the start would
    have logged and exits 3 at once, with nothing bound; TERM or INT meanwhile exit 128+N."""
    warmup = InServer.taken(where)
    if warmup is None:
        return
    with warmup.phase():
        target = run_checks(warmup.plan, warmup.doing)
    warmup.passed(target)


class InServer:
    """A warmup handed over to the server's process, from the moment it is taken until it passed or ended the
    process: the timeout's watchdog runs and the output is held (HeldOutput) all along, and in each phase
    (`phase`) TERM or INT, or anything raised, end the process with the start's one line. `here` runs it in
    one phase; warmup/asgi.py in two, `load` when the server imports the wrapper, `check` in the lifespan
    startup, on the server's own event loop (where the app's async clients must first run)."""

    def __init__(self, plan: Plan, workers: bool, where: str) -> None:
        import threading

        from entrypoint.logs import log
        from entrypoint.settings.secrets import redactor

        self.plan, self.workers, self.where = plan, workers, where
        self.logger = log.from_env(os.environ, None, redactor(os.environ))
        self.started = time.monotonic()
        self.now = "loading the app"
        self.loaded: Loaded | None = None
        self.output = HeldOutput().__enter__()
        self.watchdog = threading.Timer(plan.timeout, lambda: self.give_up(timed_out(plan, self.now), 3))
        self.watchdog.daemon = True
        self.watchdog.start()

    @classmethod
    def taken(cls, where: str) -> InServer | None:
        """The warmup prod-entry handed over, started; None when there is none (taken already, or a server
        started by hand)."""
        handed = handed_over()
        return None if handed is None else cls(*handed, where)

    def doing(self, now: str) -> None:
        self.now = now

    def give_up(self, message: str, status: int, details: str = "") -> NoReturn:
        self.output.restore()
        if details and rules.debugging(os.environ):
            self.logger.emit("error", details + self.output.text(), multiline=True)
        self.logger.error(message)
        os._exit(status)

    def _stop(self, signum: int, frame: Any) -> None:
        self.give_up(f"stopped by {signal.Signals(signum).name} during warmup", 128 + signum)

    @contextlib.contextmanager
    def phase(self) -> Iterator[None]:
        """TERM/INT handlers of ours while the block runs (the server's own are put back after it); anything it
        raises ends the process with the one line, exit 3."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        except BaseException as exc:  # anything at all: the user's code runs here
            import traceback

            self.give_up(failed(exc), 3, traceback.format_exc())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def load(self) -> Any:
        """The load phase (load_phase): the app, for the server to serve."""
        with self.phase():
            self.loaded = load_phase(self.plan, self.doing)
        return self.loaded.app

    async def check(self, lifespan: Lifespan) -> None:
        """The app's lifespan startup (in the server's lifespan scope), then every check, on the running loop:
        returns once passed, the app started and ready to serve in this same process."""
        from entrypoint.warmup.appclient import asgi_get

        assert self.loaded is not None
        app = self.loaded.app
        with self.phase():
            try:
                if self.plan.lifespan:
                    with starting_lifespan(self.plan, self.doing):
                        await lifespan.start()
                target = await request_phase_async(self.plan, self.loaded,
                                                   lambda path, t: asgi_get(app, path, t, lifespan.state), self.doing)
            finally:
                self.loaded.failures.stop()
        self.passed(target, forks=False)

    def passed(self, target: Target, forks: bool = True) -> None:
        """Log the pass, let the held output through, export the worker plan; first, where processes fork
        from this one, close what they must not share (_let_go)."""
        if forks:
            with self.phase():
                _let_go()
        self.watchdog.cancel()
        self.watchdog.join()  # gone before the server forks
        self.output.restore()
        self.output.pass_through()
        self.logger.info(passed(self.plan, self.started, target.host, target.scheme, f" in {self.where}"))
        if self.workers:
            from entrypoint.warmup import replay

            replay.export([check.path for check in self.plan.checks], target)
        state.serving_passed()  # the health port's /ready may pass from now on, once the server answers


class HeldOutput:
    """Standard output and error held in temporary files while the app loads and answers: passed through once
    it passed (the app's start-up output is the server's, printed once), kept for --traceback if it failed
    (the one-line error comes alone)."""

    def __init__(self) -> None:
        self.held: list[tuple[int, int, IO[bytes]]] = []  # (fd, a copy of the original, the file)

    def __enter__(self) -> HeldOutput:
        import tempfile

        sys.stdout.flush()
        sys.stderr.flush()
        try:
            for fd in (1, 2):
                held = tempfile.TemporaryFile()
                self.held.append((fd, os.dup(fd), held))
                os.dup2(held.fileno(), fd)
        except OSError:
            self.restore()  # no writable temporary directory: let the output through
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, original, _ in self.held:
            if original >= 0:
                os.dup2(original, fd)
                os.close(original)
        self.held = [(fd, -1, held) for fd, _, held in self.held]

    def text(self) -> str:
        chunks = []
        for _, _, held in self.held:
            held.seek(0)
            chunks.append(held.read().decode("utf-8", "replace"))
        return app_output("".join(chunks))

    def pass_through(self) -> None:
        for fd, _, held in self.held:
            held.seek(0)
            while chunk := held.read(65536):
                os.write(fd, chunk)
            held.close()
        self.held = []


def _let_go() -> None:
    """Close what the warmup's requests left open that processes forked from this one must not share: Django's
    database connections (kept with CONN_MAX_AGE) and cache clients; then freeze what is loaded (gc.freeze)."""
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
    if "django.core.cache" in sys.modules:
        from django.core.cache import caches

        caches.close_all()
    # What is loaded now stays for the process's life: frozen, the garbage collector never walks it again. In a
    # worker forked from here a collection would otherwise write to every inherited object's GC header and copy
    # its page (the workers' memory stops being shared, and early requests pay the page faults): gc.freeze()
    # right before fork is what Python's gc docs advise. Cyclic garbage made before this is never freed.
    import gc

    gc.freeze()
