"""Warmup before exec: load the app the server will serve and send it the health and warmup requests, in
memory, in a forked child (so a timeout or a TERM can end it at once, whatever threads the app started); or,
where the server's own process can run it before it binds, handed over to that process (hand_over here,
warmup/handover.py there: gunicorn's and uWSGI's masters, uvicorn's, waitress's and daphne's one process), so that
the app is loaded once.

Also wires in the per-worker replay of the same requests, through each server's own adapter
(backends/gunicorn/hook.py, the warmup/asgi.py / warmup/wsgi.py apps, ...) and the plan in replay.py.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, NamedTuple, NoReturn

from entrypoint.health import deep as deep_checks
from entrypoint.health import rules
from entrypoint.settings import registry
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError, Stopped, WarmupError
from entrypoint.settings.error_lines import describe, last_line
from entrypoint.settings.registry import WEB, Launch

if TYPE_CHECKING:  # imported where used: `prod-entry NAME` with warmup off must not pay for asyncio
    from entrypoint.warmup.appclient import Response, Target

DEFAULT_TIMEOUT = 30.0


class Plan(NamedTuple):
    app: str  # module:attr
    interface: str  # wsgi | asgi
    lifespan: bool  # asgi: whether the server runs the lifespan protocol, so the warmup does too
    factory: bool
    checks: list[rules.Check]
    host: str | None  # None: derive (PROD_ENTRY_WARMUP_HOST, else ALLOWED_HOSTS, else localhost)
    port: int
    timeout: float
    timeout_var: str  # the variable that set it, for the error message
    headers: tuple[tuple[str, str], ...] = ()  # PROD_ENTRY_WARMUP_HEADERS
    host_var: str = "PROD_ENTRY_WARMUP_HOST"  # the variable a user sets for the Host, for the error message
    deep: deep_checks.Deep = deep_checks.OFF_DEEP  # databases, caches, migrations, checked before the requests
    commands: tuple[str, ...] = ()  # `manage X` release steps: X must be a command of this project


class RemoteTraceback(Exception):
    """The warmup child's traceback and output, chained to the WarmupError for --traceback."""


def enabled(process: Process | None, env: Mapping[str, str], launch: Launch) -> bool:
    # Only the interfaces it can call (not granian's rsgi).
    return process is not None and launch.kind == WEB and bool(launch.app) and \
        (launch.interface or "wsgi") in ("wsgi", "asgi") and rules.flag(process, env, "WARMUP", True)


def plan(process: Process, env: Mapping[str, str], launch: Launch) -> Plan:
    assert launch.app is not None
    port = launch.bind[1] if launch.bind else 80
    host = rules.get(process, env, "WARMUP_HOST")
    return Plan(launch.app, launch.interface or "wsgi", launch.lifespan, launch.factory or "--factory" in launch.argv,
                rules.warmup_checks(process, env), host.strip() if host and host.strip() else None, port,
                rules.seconds(process, env, "WARMUP_TIMEOUT", DEFAULT_TIMEOUT),
                rules.setting_name(process, "WARMUP_TIMEOUT"), rules.headers(process, env, "WARMUP_HEADERS"),
                rules.setting_name(process, "WARMUP_HOST"), deep_checks.plan(process, env))


# --- in the parent: fork, watch, time out ---------------------------------------------------------------

@contextlib.contextmanager
def stoppable(phase: str) -> Iterator[None]:
    """While prod-entry itself waits or warms up, TERM and INT end it with 128+N. Without handlers, a PID 1
    would ignore TERM and `docker stop` would wait for KILL. exec resets caught signals to default."""
    def stop(signum: int, frame: Any) -> None:
        raise Stopped(f"stopped by {signal.Signals(signum).name} during {phase}", signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def warm(plan: Plan, log: Callable[[str], None]) -> Target:
    """Run the warmup in a child; return the Target it used (for the worker hook). Raises WarmupError."""
    import json  # here and in _child: a start without warmup (any non-web process) needs no json

    from entrypoint.warmup.appclient import Target

    started = time.monotonic()
    read_end, write_end = os.pipe()
    current, final, buffer = "loading the app", None, b""
    # The TERM/INT handlers go in before the fork: a TERM in between must not orphan a child with no deadline.
    with stoppable("warmup"):
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                os.close(read_end)
                _child(plan, write_end)
            finally:
                os._exit(3)  # whatever escaped _child, the child never runs the parent's code
        os.close(write_end)
        try:
            deadline = started + plan.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WarmupError(timed_out(plan, current))
                ready, _, _ = select.select([read_end], [], [], left)
                if not ready:
                    continue
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if "doing" in message:
                        current = message["doing"]
                    else:
                        final = message
        finally:
            os.close(read_end)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
    if final is None:
        raise WarmupError(f"the warmup process died ({_describe(status)}) while {current}")
    if "error" in final:
        error = ConfigError if final.get("code") == ConfigError.exit_code else WarmupError
        raise error(final["error"]) from RemoteTraceback(final.get("details", ""))
    log(passed(plan, started, final["host"], final["scheme"]))
    return Target(final["host"], plan.port, final["scheme"], plan.headers)


def timed_out(plan: Plan, doing: str) -> str:
    return f"warmup timed out after {plan.timeout:g}s while {doing}: fix the app or raise {plan.timeout_var}"


def passed(plan: Plan, started: float, host: str, scheme: str, where: str = "") -> str:
    sent = f", headers {rules.shown_headers(plan.headers)}" if plan.headers else ""
    return (f"warmup passed in {time.monotonic() - started:.2f}s{where} ({len(plan.checks)} request(s), Host "
            f"{host}, {scheme}{sent})")


def app_output(output: str) -> str:
    """What the app printed during the warmup, to follow a failure's traceback (--traceback); empty if nothing."""
    return "\n--- the app's output during warmup ---\n" + output if output.strip() else ""


def failed(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (WarmupError, ConfigError)) else f"warmup failed: {describe(exc)}"


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.waitstatus_to_exitcode(status)}"


# --- in the child ---------------------------------------------------------------------------------------

def _child(plan: Plan, fd: int) -> None:
    import json

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    out = os.fdopen(fd, "w")

    def report(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    # The app's own output (Django logging a view's traceback, say) is kept for --traceback only: the
    # one-line error says what failed, and the server prints the same start-up output again.
    import tempfile

    try:
        captured: IO[bytes] | None = tempfile.TemporaryFile()
    except OSError:
        captured = None  # no writable temporary directory: let the output through
    if captured is not None:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
    code = 0
    try:
        target = run_checks(plan, lambda doing: report({"doing": doing}))
        report({"host": target.host, "scheme": target.scheme})
    except BaseException as exc:  # anything at all: the user's code runs here
        code = ConfigError.exit_code if isinstance(exc, ConfigError) else WarmupError.exit_code
        message = failed(exc)
        import traceback  # here, not at the top: `prod-entry NAME` imports this module on its way to exec

        details = traceback.format_exc()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
            assert captured is not None
            captured.seek(0)
            details += app_output(captured.read().decode("utf-8", "replace"))
        report({"error": message, "code": code, "details": details})
    os._exit(code)


def run_checks(plan: Plan, doing: Callable[[str], None]) -> Target:
    """Load the app and pass every check, in this process, in one go (the child of `warm`, and handover.here). Raises
    WarmupError. warmup/asgi.py runs the same two phases apart, on the server's own event loop (InServer)."""
    from entrypoint.warmup.appclient import AsgiClient, wsgi_get

    loaded = load_phase(plan, doing)
    app = loaded.app
    try:
        if plan.interface != "asgi":
            return request_phase(plan, loaded, lambda path, t: wsgi_get(app, path, t), doing)
        client = AsgiClient(app)
        try:
            if plan.lifespan:  # as the server will: daphne, granian asginl, uvicorn --lifespan off send none
                with starting_lifespan(plan, doing):
                    client.start()
            return request_phase(plan, loaded, client.get, doing)
        finally:
            if plan.lifespan:
                doing(f"stopping {plan.app} (ASGI lifespan)")
            client.stop()
    finally:
        loaded.failures.stop()


class Loaded(NamedTuple):
    """What the load phase leaves for the request phase."""

    app: Any
    target: Target  # the Host and scheme derived from the settings
    failures: Failures


def load_phase(plan: Plan, doing: Callable[[str], None]) -> Loaded:
    """Everything before the first request, synchronous: django.setup(), ROOT_URLCONF, the system checks, the
    app itself, the Host to send. Raises WarmupError."""
    from entrypoint.warmup.appclient import Target

    failures = Failures()
    django = _setup_django(doing, failures)
    doing(f"importing {plan.app}")
    app = load_app(plan.app, plan.factory)
    if django is not None:
        failures.watch_hosts()
    host = plan.host or (rules.host_from_allowed_hosts(django.ALLOWED_HOSTS) if django else rules.SAFE_HOST)
    scheme = "https" if django is not None and getattr(django, "SECURE_SSL_REDIRECT", False) else "http"
    if django is not None:
        refuse_every_host(django, plan)
        known_commands(plan)
        deep_checks.run(plan.deep, doing)
    return Loaded(app, Target(host, plan.port, scheme, plan.headers), failures)


def known_commands(plan: Plan) -> None:
    """ConfigError for a `manage X` release step whose X this project does not have (a typo such as `migrat`
    would otherwise fail only when the step runs, after the steps before it)."""
    if not plan.commands:
        return
    import difflib

    from django.core.management import get_commands

    known = get_commands()
    for name in plan.commands:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{plan.deep.before_var}: 'manage {name}' is not a command of this project{hint}: fix "
                              "the step")


def request_phase(plan: Plan, loaded: Loaded, get: Callable[[str, Target], Response],
                  doing: Callable[[str], None]) -> Target:
    """Every check through `get` (path, target -> Response); the target the last one used. Raises WarmupError."""
    target = loaded.target
    for check in plan.checks:
        target = check_one(get, check, target, doing, loaded.failures, plan.host_var)
    return target


async def request_phase_async(plan: Plan, loaded: Loaded, get: Callable[[str, Target], Awaitable[Response]],
                              doing: Callable[[str], None]) -> Target:
    """request_phase on the server's running event loop, for an ASGI app: `get` is a coroutine function."""
    target = loaded.target
    for check in plan.checks:
        target = await check_one_async(get, check, target, doing, loaded.failures, plan.host_var)
    return target


@contextlib.contextmanager
def starting_lifespan(plan: Plan, doing: Callable[[str], None]) -> Iterator[None]:
    """Around the app's lifespan startup (sync or awaited): says so, and makes its lifespan.startup.failed the
    warmup's one line. The app's whole text (a traceback, for Starlette) stays for --traceback."""
    from entrypoint.warmup.appclient import LifespanFailed

    doing(f"starting {plan.app} (ASGI lifespan)")
    try:
        yield
    except LifespanFailed as exc:
        raise WarmupError(f"warmup: {plan.app}: ASGI lifespan startup failed: "
                          f"{last_line(exc.text) or '(no message)'}") from exc


def refuse_every_host(settings: Any, plan: Plan) -> None:
    """WarmupError when Django would answer every request 400 (DisallowedHost: DEBUG off, ALLOWED_HOSTS empty),
    said before any request is sent. `settings`: django.conf.settings, or the settings module itself."""
    if not getattr(settings, "DEBUG", False) and not getattr(settings, "ALLOWED_HOSTS", []):
        host = plan.host or rules.SAFE_HOST
        raise WarmupError("warmup: " + rules.disallowed_host(host, [], os.environ["DJANGO_SETTINGS_MODULE"],
                                                              plan.host_var))


def check_one(get: Callable[[str, Target], Response], check: rules.Check, target: Target,
              doing: Callable[[str], None], failures: list[BaseException],
              host_var: str = "PROD_ENTRY_WARMUP_HOST") -> Target:
    """One request; a redirect to https of the same request is retried as https (SECURE_SSL_REDIRECT and
    the like). Returns the target to use from now on."""
    what = _begin(check, target, doing, failures)
    try:
        response = get(check.path, target)
        if _to_https(response, target):
            target = target._replace(scheme="https")
            response = get(check.path, target)
    except WarmupError:
        raise
    except Exception as exc:
        raise WarmupError(f"warmup: {what} raised {describe(exc)}") from exc
    _judge(check, response, target, what, failures, host_var)
    return target


async def check_one_async(get: Callable[[str, Target], Awaitable[Response]], check: rules.Check, target: Target,
                          doing: Callable[[str], None], failures: list[BaseException],
                          host_var: str = "PROD_ENTRY_WARMUP_HOST") -> Target:
    """check_one with a coroutine function for `get`."""
    what = _begin(check, target, doing, failures)
    try:
        response = await get(check.path, target)
        if _to_https(response, target):
            target = target._replace(scheme="https")
            response = await get(check.path, target)
    except WarmupError:
        raise
    except Exception as exc:
        raise WarmupError(f"warmup: {what} raised {describe(exc)}") from exc
    _judge(check, response, target, what, failures, host_var)
    return target


def _begin(check: rules.Check, target: Target, doing: Callable[[str], None], failures: list[BaseException]) -> str:
    what = f"GET {check.path} (Host {target.host})"
    doing(what)
    del failures[:]
    return what


def _to_https(response: Response, target: Target) -> bool:
    location = response.header("location") or ""
    return 300 <= response.status < 400 and target.scheme == "http" and location.startswith("https://")


def _judge(check: rules.Check, response: Response, target: Target, what: str, failures: list[BaseException],
           host_var: str) -> None:
    """WarmupError unless the check passes, naming why: DisallowedHost, the view's exception, the page."""
    if check.passes(response.status):
        return
    if failures and type(failures[-1]).__name__ == "DisallowedHost":  # Django logged it: see Failures
        from django.conf import settings

        raise WarmupError(f"warmup: {what} answered {response.status}: " + rules.disallowed_host(
            target.host, settings.ALLOWED_HOSTS, os.environ["DJANGO_SETTINGS_MODULE"], host_var))
    # Django turns a view's exception into a 500 page; got_request_exception told us what it was.
    reason = describe(failures[-1]) if failures else response.summary()
    raise WarmupError(f"warmup: {what} answered {response.status}, expected {check.expected()} "
                      f"({check.setting}): {reason}")


def _setup_django(doing: Callable[[str], None], failures: Failures) -> Any:
    """django.setup() and the system checks, when DJANGO_SETTINGS_MODULE is set; the settings, else None."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    try:
        import django
    except ImportError:
        return None  # a non-Django app with a stray DJANGO_SETTINGS_MODULE
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    doing("running django.setup()")
    try:
        django.setup()
    except Exception as exc:
        raise WarmupError(f"warmup: django.setup() failed (DJANGO_SETTINGS_MODULE="
                          f"{os.environ['DJANGO_SETTINGS_MODULE']}): {_raised(exc)}") from exc
    from django.conf import settings
    from django.core import checks
    from django.core.signals import got_request_exception

    # django.setup() does not import the URLconf; the system checks (or else the first request) do. Importing
    # it here first lets a mistake in urls.py (or a view it imports) be reported as what it is.
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    if isinstance(urlconf, str) and urlconf:
        doing(f"importing ROOT_URLCONF {urlconf}")
        try:
            importlib.import_module(urlconf)
        except Exception as exc:
            raise WarmupError(f"warmup: importing ROOT_URLCONF ({urlconf}) failed: {_raised(exc)}") from exc
    doing("running Django's system checks")
    try:
        errors = [e for e in checks.run_checks() if e.is_serious() and not e.is_silenced()]
    except Exception as exc:
        raise WarmupError(f"warmup: Django's system checks raised {_raised(exc)}") from exc
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise WarmupError(f"warmup: Django system check failed: {last_line(str(errors[0]))}{more}: fix it, or silence it with "
                          "SILENCED_SYSTEM_CHECKS")

    got_request_exception.connect(failures.record, weak=False)
    return settings


class Failures(list):
    """The exceptions Django reported while answering the warmup's requests: a view's, through
    got_request_exception (record), and DisallowedHost, which Django answers 400 and only logs (watch_hosts).
    `stop` ends both: the process that warmed up goes on to serve, or forks the workers that do, and must not
    keep every later request's exception."""

    def __init__(self) -> None:
        super().__init__()
        self.handler: Any = None

    def record(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            self.append(exc)

    def watch_hosts(self) -> None:
        """Called once the app is loaded, because get_wsgi_application() runs django.setup() again, whose
        logging config drops handlers."""
        import logging

        failures = self

        class Rejected(logging.Handler):
            def emit(self, entry: logging.LogRecord) -> None:
                if entry.exc_info and entry.exc_info[1] is not None:
                    failures.append(entry.exc_info[1])

        self.handler = Rejected()
        logging.getLogger("django.security.DisallowedHost").addHandler(self.handler)

    def stop(self) -> None:
        if "django.core.signals" in sys.modules:
            from django.core.signals import got_request_exception

            got_request_exception.disconnect(self.record)
        if self.handler is not None:
            import logging

            logging.getLogger("django.security.DisallowedHost").removeHandler(self.handler)
        del self[:]


def _raised(exc: BaseException) -> str:
    """`NameError: name 'x' is not defined (mysite/urls.py, line 5)`: the exception and where it was raised."""
    if isinstance(exc, SyntaxError) and exc.msg:  # its str() names the file already, without the directory
        return f"{type(exc).__name__}: {exc.msg}{_where(exc)}"
    return f"{describe(exc)}{_where(exc)}"


def _where(exc: BaseException) -> str:
    """` (mysite/urls.py, line 5)`: where in the project the exception was raised (a SyntaxError: the bad
    line), else its innermost frame; empty when neither is known."""
    import traceback

    place: tuple[str, int | None] | None = None
    if isinstance(exc, SyntaxError) and exc.filename:
        place = exc.filename, exc.lineno
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
        here = os.getcwd() + os.sep
        ours = [f for f in frames if f.filename.startswith(here) and "-packages" + os.sep not in f.filename]
        if ours or frames:
            place = (ours or frames)[-1].filename, (ours or frames)[-1].lineno
    if place is None:
        return ""
    path = os.path.relpath(place[0]) if place[0].startswith(os.getcwd() + os.sep) else place[0]
    return f" ({path}, line {place[1]})" if place[1] else f" ({path})"


def load_app(spec: str, factory: bool = False) -> Any:
    """`module:attr` (gunicorn also takes `module`, meaning `module:application`, and `module:make()`)."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "application"
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise WarmupError(f"warmup: importing {module_name} (the app {spec}) failed: {describe(exc)}") from exc
    call = attr.endswith("()")
    try:
        for part in attr.removesuffix("()").split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise WarmupError(f"warmup: module {module_name} has no attribute {attr.removesuffix('()')!r} (the app "
                          f"{spec}): fix the APP setting") from None
    if call or factory:
        obj = obj()
    if not callable(obj):
        raise WarmupError(f"warmup: {spec} is {type(obj).__name__}, not a WSGI/ASGI callable")
    return obj


# --- in the server's own process: the app loaded once, for the warmup and for serving ---------------------

HANDOVER_VAR = "PROD_ENTRY_WARMUP_PLAN"


def in_server(process: Process | None, env: Mapping[str, str], launch: Launch) -> Launch:
    """The Launch with the warmup moved into the server's own process, where its backend can run it there
    before binding (it sets Launch.warmup_in and has a `warm_in_server(env, launch) -> Launch` adapter, which
    wires in the hook that calls handover.here): the app is then loaded once, for the warmup and for serving. Else
    (warmup_in None) a child of prod-entry runs the warmup before exec, and the server loads the app again."""
    if not launch.warmup_in:
        return launch
    wanted = enabled(process, env, launch) and rules.flag(process, env, "WARMUP_IN_SERVER", True)
    wire = registry.adapter(launch, "warm_in_server") if wanted else None
    return wire(env, launch) if wire else launch._replace(warmup_in=None)


def where(process: Process | None, env: Mapping[str, str], launch: Launch) -> str | None:
    """Where the warmup of a start runs, in words, for `prod-entry show`; None for a process that is not web."""
    if process is None or launch.kind != WEB:
        return None
    if not rules.flag(process, env, "WARMUP", True):
        return f"off ({rules.setting_name(process, 'WARMUP')})"
    if not enabled(process, env, launch):
        return f"none (the {launch.interface} interface cannot be called in memory)"
    if launch.warmup_in:
        return f"in {launch.warmup_in}"
    off = rules.get(process, env, "WARMUP_IN_SERVER") or ""
    why = f"{rules.setting_name(process, 'WARMUP_IN_SERVER')}={off}; " if off.strip().lower() in rules.OFF else ""
    return f"in a child of prod-entry, before exec ({why}the server then loads the app again)"


def hand_over(plan: Plan, workers: bool) -> None:
    """The plan, for handover.here in the server's process, through the environment exec passes on."""
    import json

    os.environ[HANDOVER_VAR] = json.dumps({**plan._asdict(), "workers": workers})


def handed_over() -> tuple[Plan, bool] | None:
    import json

    text = os.environ.pop(HANDOVER_VAR, "")  # taken once: the workers and a reloaded server must not run it again
    if not text:
        return None
    fields = json.loads(text)
    workers = fields.pop("workers")
    fields["checks"] = [rules.Check(path, tuple((low, high) for low, high in statuses), setting)
                        for path, statuses, setting in fields["checks"]]
    fields["headers"] = tuple((name, value) for name, value in fields["headers"])
    deep = fields["deep"]
    fields["deep"] = deep_checks.Deep(tuple(deep[0]), tuple(deep[1]), *deep[2:])
    fields["commands"] = tuple(fields["commands"])
    return Plan(**fields), workers


# --- the per-worker warmup, wired in by each server's adapter ---------------------------------------------

def with_worker_warmup(process: Process | None, env: Mapping[str, str], launch: Launch) -> Launch:
    """The Launch with the server's per-worker warmup wired in, when warmup and WARMUP_WORKERS are on and the
    server has an adapter: a `worker_warmup(env, launch) -> Launch | None` in its backend module, which says
    where each worker replays the warmup (gunicorn's post_worker_init, an ASGI lifespan startup, ...)."""
    if not (enabled(process, env, launch) and rules.flag(process, env, "WARMUP_WORKERS", True)):
        return launch
    adapter = registry.adapter(launch, "worker_warmup")
    return (adapter(env, launch) if adapter else None) or launch


def export_worker_plan(plan: Plan, target: Target, env: Mapping[str, str], launch: Launch) -> None:
    """Tell the server's adapter, through the environment exec passes on, what to replay; then let the
    adapter add what it needs itself (its `prepare_worker_warmup(env, launch)`)."""
    from entrypoint.warmup import replay

    replay.export([c.path for c in plan.checks], target)
    prepare = registry.adapter(launch, "prepare_worker_warmup")
    if prepare:
        prepare(env, launch)


# --- the steps before exec -------------------------------------------------------------------------------

def preflight(process: Process, env: Mapping[str, str], launch: Launch, log: Callable[[str], None],
              commands: tuple[str, ...] = ()) -> None:
    """Before the release steps, in a child: what needs no migrated database (django.setup(), the system checks,
    importing the app, the steps' `manage` commands), so that a release that can never serve fails before it
    migrates. The requests and the deep checks come after the steps, in the warmup. Raises WarmupError,
    ConfigError or Stopped."""
    if not enabled(process, env, launch):
        return
    started = time.monotonic()
    planned = plan(process, env, launch)
    checks = planned._replace(checks=[], lifespan=False, commands=commands,
                              deep=planned.deep._replace(databases=(), caches=(), migrations=False))
    warm(checks, lambda line: None)
    log(f"preflight passed in {time.monotonic() - started:.2f}s (django.setup(), system checks, {checks.app} "
        "imported): the release steps run next")


def gates(process: Process | None, env: Mapping[str, str], launch: Launch, log: Callable[[str], None],
          port_check: bool = True) -> None:
    """The checks before anything runs: port check (web), wait-for (any kind), then the backend's own check of
    its app (a `check_app(process, env, launch, log)` adapter: a Celery app imports and reaches its broker).
    Raises ConfigError, WaitTimeout, WarmupError or Stopped."""
    from entrypoint.release import waitfor

    if port_check and process is not None and launch.kind == WEB and rules.flag(process, env, "PORT_CHECK", True):
        # The bind may come from ARGS, the server's config file or its environment: show names which.
        waitfor.check_port_free(launch.bind, f"PORT, or the bind that `prod-entry show {process.name}` traces to "
                                "its origin")
    with stoppable("wait-for"):
        waitfor.wait(process, env, log)
    check_app = registry.adapter(launch, "check_app") if process is not None else None
    if check_app:
        with stoppable("the app check"):
            check_app(process, env, launch, log)


def before_exec(process: Process | None, env: Mapping[str, str], launch: Launch, log: Callable[[str], None],
                starting: bool = True, commands: tuple[str, ...] = (), migrations: bool = True) -> None:
    """The last steps before exec: the heartbeat path for the worker, the warmup and the worker adapter's
    plan (web). A start hands the warmup over to a server that runs it itself (Launch.warmup_in); `check`
    (starting False) runs it here, in a child, as for any other server, validating the release steps'
    `commands` (a start did in its preflight) and, with `migrations` False, leaving unapplied migrations to a
    migrate step it does not run. Raises ConfigError, WarmupError or Stopped."""
    heartbeat = rules.get(process, env, "HEARTBEAT_FILE") if process is not None else None
    if heartbeat:  # a per-process path reaches the worker's heartbeat helper through the global name
        os.environ["PROD_ENTRY_HEARTBEAT_FILE"] = heartbeat
    if process is None or not enabled(process, env, launch):
        return
    warmup_plan = plan(process, env, launch)
    warmup_plan = warmup_plan._replace(commands=commands,
                                       deep=warmup_plan.deep._replace(migrations=warmup_plan.deep.migrations and
                                                                      migrations))
    if not migrations and warmup_plan.deep.databases:
        log("unapplied migrations are left to the 'manage migrate' step, which check does not run")
    if os.environ.get("DJANGO_SETTINGS_MODULE"):  # the settings alone show it: refused before exec, at no cost
        from entrypoint.settings import django_settings

        with contextlib.suppress(ConfigError):  # a settings module that raises: the warmup reports it
            refuse_every_host(django_settings.settings_module(os.environ, "the warmup"), warmup_plan)
    if starting and launch.warmup_in:
        hand_over(warmup_plan, workers=bool(launch.worker_warmup))
        return
    target = warm(warmup_plan, log)
    if launch.worker_warmup:
        export_worker_plan(warmup_plan, target, env, launch)
