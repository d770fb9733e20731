"""`prod-entry healthcheck [NAME] [--url URL] [--timeout S] [--file PATH --max-age S]`: Docker HEALTHCHECK
and Kubernetes exec probes without curl. Exit 0 healthy, 1 not (Docker reserves 2), one line either way.

It runs every few seconds in every container, so it imports neither click nor Django nor http.client
(which pulls in ssl and email): a raw HTTP/1.0 GET over a socket is all a probe needs.
"""

from __future__ import annotations

import os
import time

# Not `from typing import TYPE_CHECKING`: importing typing costs a probe more than all the rest. Type
# checkers treat a TYPE_CHECKING constant as true wherever it is defined.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from entrypoint.settings.config import Process
    from entrypoint.settings.registry import Launch

USAGE = """usage: prod-entry healthcheck [NAME] [--url URL] [--host HOST] [--timeout SECONDS]
                              [--file PATH] [--max-age SECONDS]

Probe process NAME (default: the NAME this container's PID 1 was started with when it is prod-entry, as
in `docker run image worker`; else PROD_ENTRY_DEFAULT_PROCESS, else web). Web processes: an HTTP GET of the
health URL (PROD_ENTRY_HEALTHCHECK_URL, default /) on the bind address from the process definition;
--url /path probes another path there, --url http://host:port/path another server. The Host header is
--host, else PROD_ENTRY_WARMUP_HOST, else what ALLOWED_HOSTS accepts, else localhost (for a full --url
too: its host is where to connect). PROD_ENTRY_HEALTHCHECK_HEADERS (else PROD_ENTRY_WARMUP_HEADERS), e.g.
"Authorization: Bearer ...", are sent along. Passes on PROD_ENTRY_HEALTHCHECK_STATUS (default 200; with
no health URL set, any status below 500 but 400).
Workers: the heartbeat file (--file, PROD_ENTRY_HEARTBEAT_FILE, default $PROD_ENTRY_STATE_DIR/heartbeat)
must be younger than --max-age (PROD_ENTRY_HEARTBEAT_MAX_AGE, default 60) seconds.
PROD_ENTRY_HEALTHCHECK_COMMAND (or PROD_ENTRY_PROCESS_<NAME>_HEALTHCHECK_COMMAND): a command to run instead,
healthy when it exits 0; the probe of backends with none of their own (command, manage, celery-beat).
Not ready while the supervisor's draining marker for NAME in this container exists (its shutdown delay:
$PROD_ENTRY_STATE_DIR/draining.NAME.<PID namespace>).
Exit 0 healthy, 1 not healthy or misconfigured."""

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_AGE = 60.0
OPTIONS = ("--url", "--host", "--timeout", "--file", "--max-age")


class Unhealthy(Exception):
    """One line saying why the probe failed."""


def parse(args: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    name, options = None, {}
    words = list(args)
    while words:
        word = words.pop(0)
        key, eq, value = word.partition("=")
        if key in OPTIONS:
            if not eq:
                if not words:
                    raise Unhealthy(f"healthcheck: {key} needs a value")
                value = words.pop(0)
            options[key] = value
        elif word.startswith("-") or name is not None:
            raise Unhealthy(f"healthcheck: unexpected argument {word!r} (see prod-entry healthcheck --help)")
        else:
            name = word
    return name, options


def number(text: str, what: str) -> float:
    from entrypoint.settings.units import seconds

    value = seconds(text)
    if value is None:
        raise Unhealthy(f"healthcheck: {what}={text!r} is not a number of seconds")
    return value


def main(args: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    if "-h" in args or "--help" in args:
        print(USAGE)
        return 0
    from entrypoint.settings.secrets import redactor

    # A URL given with --url or in PROD_ENTRY_HEALTHCHECK_URL may carry credentials: mask every line.
    redact = redactor(environ)
    try:
        print(redact(probe(args, environ)))
        return 0
    except Exception as exc:  # Unhealthy, a ConfigError, anything: a probe answers 1, never 2 or a traceback
        from entrypoint.logs.log import write
        from entrypoint.settings.errors import EntrypointError
        from entrypoint.settings.error_lines import describe

        # Our own errors are written to be read; any other exception's bare text (a KeyError's `'app'`) is not.
        reason = str(exc) if isinstance(exc, (Unhealthy, EntrypointError)) else \
            f"the probe itself failed ({describe(exc)}): a bug in prod-entry or a custom backend"
        write(redact(f"prod-entry: unhealthy: {reason}") + "\n")  # a full stderr must not turn 1 into 120
    return 1


def probe(args: Sequence[str], environ: Mapping[str, str]) -> str:
    """The healthy line; raises Unhealthy (or an EntrypointError) otherwise."""
    from entrypoint.init.state import draining_file

    name, options = parse(args)
    name = name or started_process()  # no NAME: the process this container was started with
    draining = draining_file(environ, name)  # the marker of this instance: NAME (else the default) in this container
    if os.path.exists(draining):
        raise Unhealthy(f"not ready: draining ({draining} exists: the container is shutting down)")
    if "--file" in options and "--max-age" in options:  # fully specified: no need to read any definition
        return heartbeat(options["--file"], number(options["--max-age"], "--max-age"))
    return probe_process(name, options, environ)


def started_process(cmdline: str = "/proc/1/cmdline") -> str | None:
    """The NAME this container's PID 1 was started with, when PID 1 is prod-entry (`docker run image worker`):
    what `prod-entry healthcheck` with no NAME probes, so that one HEALTHCHECK fits every process of an image.
    None when PID 1 is something else (tini, a shell) or was given no NAME: the default process, as before."""
    try:
        with open(cmdline, "rb") as file:
            words = [word.decode("utf-8", "replace") for word in file.read().split(b"\0") if word]
    except OSError:
        return None
    # The lean supervisor runs as `python -I -S -c CODE ARGV0 ARGS...`; before its restart, `[python] ARGV0 ARGS`.
    at = next((i for i, word in enumerate(words) if os.path.basename(word) == "prod-entry"), None)
    if at is None:
        return None
    first = next((word for word in words[at + 1:] if not word.startswith("-")), None)
    from entrypoint.settings.names import COMMANDS

    return None if first is None or first in COMMANDS else first


def heartbeat(path: str, max_age: float, hint: str = "", max_age_from: str = "--max-age") -> str:
    """`hint` says what writes the file (for the message when it does not exist); `max_age_from` names the
    setting or option to raise when it is stale."""
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        raise Unhealthy(f"no heartbeat: {path} does not exist (the worker has not started, has stopped, or "
                        f"does not write it{': ' + hint if hint else ''})") from None
    except OSError as exc:
        raise Unhealthy(f"no heartbeat: cannot read {path} ({exc.strerror})") from None
    if age > max_age:
        raise Unhealthy(f"stale heartbeat: {path} is {age:.0f}s old (max {max_age:g}s): the worker has stopped "
                        f"taking work, or is busy longer than that (raise {max_age_from})")
    return f"healthy: heartbeat {path} is {age:.0f}s old (max {max_age:g}s)"


def probe_process(name: str | None, options: dict[str, str], environ: Mapping[str, str]) -> str:
    from entrypoint.health import rules
    from entrypoint.settings import config, prodserver
    from entrypoint.settings.registry import HTTP, WEB, plan, probe_kind, process_var

    environment = config.load_environment(environ)
    environment.export()  # Django settings, if read, take the .env file's variables from os.environ
    env = environment.values
    selected = config.selected_name(env, name)
    processes = config.processes(environment)
    if selected not in processes or processes[selected].origins["backend"] == "built-in":
        # Only PRODUCTION_PROCESSES can define it, or replace a built-in default: the settings module is read.
        # A process the environment defines needs no settings (nor their import's side effects) on every probe.
        processes = prodserver.processes(environment)
    process = processes.get(selected)
    url = options.get("--url", "").strip() or None
    if process is None and (url is None or url.startswith("/")):
        if url is not None:
            raise Unhealthy(f"no process {selected!r} is defined, so --url {url} has no bind address to probe: "
                            f"give the full URL (http://host:port{url})")
        raise Unhealthy(f"no process {selected!r} is defined (defined: {', '.join(sorted(processes))})")
    explicit = "--url" in options or "--file" in options
    command = None if explicit else rules.get(process, env, "HEALTHCHECK_COMMAND")
    if command is not None:
        return run_command(command, rules.setting_name(process, "HEALTHCHECK_COMMAND"),
                           number(options["--timeout"], "--timeout") if "--timeout" in options else
                           rules.seconds(process, env, "HEALTHCHECK_TIMEOUT", DEFAULT_TIMEOUT))
    kind, hint = probe_kind(process, env) if process else (HTTP, "")
    if "--file" in options or (kind != HTTP and "--url" not in options):
        assert process is not None or "--file" in options
        path = options.get("--file") or (heartbeat_file(process, env, kind) if process is not None else None)
        if not path:
            assert process is not None
            raise Unhealthy(f"process {selected!r} (backend {process.backend}) has no probe of its own: set "
                            f"{process_var(process, 'HEALTHCHECK_COMMAND')} to a command that exits 0 when it is "
                            f"healthy, or {process_var(process, 'HEARTBEAT_FILE')} to a file it keeps fresh")
        max_age = options.get("--max-age") or rules.get(process, env, "HEARTBEAT_MAX_AGE")
        max_age_from = "--max-age" if "--max-age" in options else rules.setting_name(process, "HEARTBEAT_MAX_AGE")
        return heartbeat(path, number(max_age, max_age_from) if max_age else DEFAULT_MAX_AGE, hint, max_age_from)
    # The app is not needed to know the bind: a placeholder spares importing Django settings for it.
    launch = plan(process._replace(app=process.app or "-"), env, []) if process else None
    check = rules.health_check(process, env, url)  # --url names the health URL: 200 expected, as for it
    timeout = number(options["--timeout"], "--timeout") if "--timeout" in options else \
        rules.seconds(process, env, "HEALTHCHECK_TIMEOUT", DEFAULT_TIMEOUT)
    if url is not None and not url.startswith("/"):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unhealthy(f"healthcheck: --url {url!r} is neither a path (/ready) nor an http:// or https:// URL")
        # The URL says where to connect; the Host header still follows the warmup's rules (or --host): the
        # app's ALLOWED_HOSTS need not list the name a probe reaches it by (api.internal, a pod IP).
        host, tls = parts.hostname, parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
    else:
        assert launch is not None
        if launch.kind != WEB:
            raise Unhealthy(f"process {selected!r} is a {launch.kind}: give a full --url, or --file for a heartbeat")
        if launch.bind is None:
            raise Unhealthy(f"the bind address of {selected!r} is not host:port (a unix socket?): give a full --url")
        host, port, tls = rules.connect_host(launch.bind[0]), launch.bind[1], False
    given = options.get("--host", "").strip()
    requested = given or request_host(process, env)
    extra = rules.headers(process, env, "HEALTHCHECK_HEADERS", "WARMUP_HEADERS")
    headers = {"Host": given or host_header(requested, port), **dict(extra)}
    sent = f"Host {headers['Host']}" + (f", headers {rules.shown_headers(extra)}" if extra else "")
    where = f"{'https' if tls else 'http'}://{host}:{port}{check.path}"
    status, location = get(host, port, tls, check.path, headers, timeout)
    if 300 <= status < 400 and not tls and location.startswith("https://") and not check.passes(status):
        # Behind a TLS proxy with SECURE_SSL_REDIRECT: ask as the proxy would.
        status, location = get(host, port, tls, check.path, {**headers, "X-Forwarded-Proto": "https"}, timeout)
    if not check.passes(status):
        django = django_hosts(env) if status == 400 else None
        if django is not None and not rules.host_allowed(headers["Host"], django[0], django[1]):
            host_var = "--host" if given else rules.setting_name(process, "WARMUP_HOST")  # type: ignore[arg-type]
            raise Unhealthy(f"GET {where} answered 400: "
                            + rules.disallowed_host(headers["Host"], django[0], django[2], host_var))
        raise Unhealthy(f"GET {where} answered {status}, expected {check.expected()} ({check.setting}) ({sent})")
    return f"healthy: GET {where} answered {status} ({sent})"


def heartbeat_file(process: Process, env: Mapping[str, str], kind: str) -> str | None:
    """The file a process's heartbeat keeps fresh, None for one with no probe of its own: such a process takes
    only a file named for it, as the global HEARTBEAT_FILE belongs to the workers that write it (a celery-beat
    beside a Celery worker must not pass on its file)."""
    from entrypoint.health import rules
    from entrypoint.init import state
    from entrypoint.settings.registry import HEARTBEAT

    named = process.settings.get("HEARTBEAT_FILE")
    if kind == HEARTBEAT:
        named = named or rules.get(process, env, "HEARTBEAT_FILE") or state.heartbeat_file(env)
    return named


def serving_facts(process: Process | None, env: Mapping[str, str], launch: Launch) -> dict[str, str]:
    """What the health port (init/healthport.py) asks of the program a start execs, for state.write_serving: a
    GET of the health URL on its bind (web), its heartbeat file (workers), else nothing beyond running. The
    Host header is the probe's, so the app's ALLOWED_HOSTS accepts it; the probe's extra headers are left out
    (they are credentials, and the file is not a secret's place): any answer below 500 is ready."""
    import socket

    from entrypoint.health import rules
    from entrypoint.settings.registry import WEB, probe_kind

    if process is None:
        return {"kind": "none", "why": f"{os.path.basename(launch.argv[0])} has no probe of its own"}
    if launch.kind == WEB:
        if launch.bind is None:
            return {"kind": "none", "why": f"{process.name} listens on a unix socket or an fd, which is not probed"}
        host, port = rules.connect_host(launch.bind[0]), launch.bind[1]
        try:  # a name (localhost) is looked up here: the supervisor must never wait on DNS
            host = str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])
        except OSError:
            pass
        timeout = rules.seconds(process, env, "HEALTHCHECK_TIMEOUT", DEFAULT_TIMEOUT)
        return {"kind": "http", "host": host, "port": str(port), "path": rules.health_check(process, env).path,
                "host_header": host_header(request_host(process, env), port), "timeout": f"{timeout:g}"}
    kind = probe_kind(process, env)[0]
    path = heartbeat_file(process, env, kind)
    if path is None:
        return {"kind": "none", "why": f"{process.name} (backend {process.backend}) has no probe of its own"}
    max_age = rules.seconds(process, env, "HEARTBEAT_MAX_AGE", DEFAULT_MAX_AGE)
    return {"kind": "heartbeat", "file": os.path.abspath(path), "max_age": f"{max_age:g}"}


def host_header(host: str, port: int) -> str:
    """The Host header for `host` on `port`: the port left out where it is the scheme's default."""
    return host if port in (80, 443) else f"{host}:{port}"


def run_command(command: str, var: str, timeout: float) -> str:
    """The user's own probe: healthy when it exits 0; otherwise its last meaningful line says why."""
    import shlex
    import subprocess

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise Unhealthy(f"{var} cannot be split like a command line ({exc}): fix its quoting") from None
    if not words:
        raise Unhealthy(f"{var} is empty: unset it, or set it to a command that exits 0 when healthy")
    try:
        done = subprocess.run(words, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise Unhealthy(f"{var}: {words[0]!r} is not found: install it, or fix the command") from None
    except PermissionError:
        raise Unhealthy(f"{var}: {words[0]!r} cannot be executed: fix its permissions, or the command") from None
    except subprocess.TimeoutExpired:
        raise Unhealthy(f"{var}: {words[0]} did not finish within {timeout:g}s (PROD_ENTRY_HEALTHCHECK_TIMEOUT)") \
            from None
    if done.returncode == 0:
        return f"healthy: {var}: {words[0]} exited 0"
    # The last line is where a traceback or a tool's error says what went wrong.
    lines = [line.strip() for line in (done.stderr or done.stdout).decode(errors="replace").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    how = f"exited {done.returncode}" if done.returncode > 0 else f"was killed by signal {-done.returncode}"
    raise Unhealthy(f"{var}: {words[0]} {how}{': ' + last[:200] if last else ''}")


def request_host(process: object, env: Mapping[str, str]) -> str:
    """PROD_ENTRY_WARMUP_HOST, else what Django's ALLOWED_HOSTS accepts (importing the settings module
    only, never django.setup()), else localhost."""
    from entrypoint.health import rules

    host = rules.get(process, env, "WARMUP_HOST")  # type: ignore[arg-type]
    if host and host.strip():
        return host.strip()
    django = django_hosts(env)
    return rules.host_from_allowed_hosts(django[0]) if django is not None else rules.SAFE_HOST


def django_hosts(env: Mapping[str, str]) -> tuple[object, bool, str] | None:
    """(ALLOWED_HOSTS, DEBUG, the settings module's name) from DJANGO_SETTINGS_MODULE, or None without one."""
    if not env.get("DJANGO_SETTINGS_MODULE"):
        return None
    from entrypoint.settings.django_settings import settings_module

    try:
        module = settings_module(env, "the Host")
    except Exception:
        return None
    return getattr(module, "ALLOWED_HOSTS", []), bool(getattr(module, "DEBUG", False)), module.__name__


def get(host: str, port: int, tls: bool, path: str, headers: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """(status, Location header) of a GET; raises Unhealthy when nothing answers in time."""
    import socket

    lines = [f"GET {path} HTTP/1.0", *(f"{k}: {v}" for k, v in headers.items()),
             "User-Agent: prod-entry-healthcheck", "Connection: close", "", ""]
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock = raw
            if tls:
                import ssl

                # A probe of the server's own port: its certificate names the public host, not this one.
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(raw, server_hostname=host)
            sock.sendall("\r\n".join(lines).encode("latin-1"))
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except socket.timeout:
        raise Unhealthy(f"GET {path} on {host}:{port}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise Unhealthy(f"GET {path} on {host}:{port}: {exc.strerror or exc}") from None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise Unhealthy(f"GET {path} on {host}:{port}: not an HTTP answer ({head[0][:60]!r})")
    location = next((line.split(":", 1)[1].strip() for line in head[1:] if line.lower().startswith("location:")), "")
    return int(parts[1]), location
