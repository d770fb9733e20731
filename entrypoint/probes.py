"""`prod-entry healthcheck [NAME] [--url URL] [--timeout S] [--file PATH --max-age S]`: Docker HEALTHCHECK
and Kubernetes exec probes without curl. Exit 0 healthy, 1 not (Docker reserves 2), one line either way.

It runs every few seconds in every container, so it imports neither click nor Django nor http.client
(which pulls in ssl and email): a raw HTTP/1.0 GET over a socket is all a probe needs.
"""

from __future__ import annotations

import os
import sys
import time

# Not `from typing import TYPE_CHECKING`: importing typing costs a probe more than all the rest. Type
# checkers treat a TYPE_CHECKING constant as true wherever it is defined.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

USAGE = """usage: prod-entry healthcheck [NAME] [--url URL] [--timeout SECONDS]
                              [--file PATH] [--max-age SECONDS]

Probe process NAME (default: PROD_ENTRY_DEFAULT_PROCESS, else web). Web processes: an HTTP GET of the
health URL (PROD_ENTRY_HEALTHCHECK_URL, default /) on the bind address from the process definition, or
--url; passes on PROD_ENTRY_HEALTHCHECK_STATUS (default 200; with no health URL set, any status below 500).
Workers: the heartbeat file (--file, PROD_ENTRY_HEARTBEAT_FILE, default $PROD_ENTRY_STATE_DIR/heartbeat)
must be younger than --max-age (PROD_ENTRY_HEARTBEAT_MAX_AGE, default 60) seconds.
Not ready while $PROD_ENTRY_STATE_DIR/draining exists (the supervisor's shutdown delay).
Exit 0 healthy, 1 not healthy or misconfigured."""

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_AGE = 60.0
OPTIONS = ("--url", "--timeout", "--file", "--max-age")


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
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise Unhealthy(f"healthcheck: {what}={text!r} is not a number of seconds")
    return value


def main(args: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    if "-h" in args or "--help" in args:
        print(USAGE)
        return 0
    try:
        print(probe(args, environ))
        return 0
    except Unhealthy as exc:
        print(f"prod-entry: unhealthy: {exc}", file=sys.stderr)
    except Exception as exc:  # a ConfigError, or anything else: a probe answers 1, never 2 or a traceback
        from entrypoint.secrets import redactor

        print(redactor(environ)(f"prod-entry: unhealthy: {exc}"), file=sys.stderr)
    return 1


def probe(args: Sequence[str], environ: Mapping[str, str]) -> str:
    """The healthy line; raises Unhealthy (or an EntrypointError) otherwise."""
    from entrypoint.state import draining_file

    name, options = parse(args)
    draining = draining_file(environ)
    if os.path.exists(draining):
        raise Unhealthy(f"not ready: draining ({draining} exists: the container is shutting down)")
    if "--file" in options and "--max-age" in options:  # fully specified: no need to read any definition
        return heartbeat(options["--file"], number(options["--max-age"], "--max-age"))
    return probe_process(name, options, environ)


def heartbeat(path: str, max_age: float) -> str:
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        raise Unhealthy(f"no heartbeat: {path} does not exist (the worker has not started, or does not call "
                        "entrypoint.celery_heartbeat.install)") from None
    if age > max_age:
        raise Unhealthy(f"stale heartbeat: {path} is {age:.0f}s old (max {max_age:g}s)")
    return f"healthy: heartbeat {path} is {age:.0f}s old (max {max_age:g}s)"


def probe_process(name: str | None, options: dict[str, str], environ: Mapping[str, str]) -> str:
    from entrypoint import config, health, state
    from entrypoint.backends import WEB, WORKER, plan

    environment = config.load_environment(environ)
    env = environment.values
    processes = config.processes(environment)
    selected = config.selected_name(env, name)
    process = processes.get(selected)
    if process is None and "--url" not in options:
        raise Unhealthy(f"no process {selected!r} is defined (defined: {', '.join(sorted(processes))})")
    # The app is not needed to know the bind: a placeholder spares importing Django settings for it.
    launch = plan(process._replace(app=process.app or "-"), env, []) if process else None
    if "--file" in options or (launch is not None and launch.kind == WORKER and "--url" not in options):
        path = options.get("--file") or health.get(process, env, "HEARTBEAT_FILE") or state.heartbeat_file(env)
        max_age = options.get("--max-age") or health.get(process, env, "HEARTBEAT_MAX_AGE")
        return heartbeat(path, number(max_age, "--max-age") if max_age else DEFAULT_MAX_AGE)
    check = health.health_check(process, env)
    timeout = number(options["--timeout"], "--timeout") if "--timeout" in options else \
        health.seconds(process, env, "HEALTHCHECK_TIMEOUT", DEFAULT_TIMEOUT)
    if "--url" in options:
        from urllib.parse import urlsplit

        parts = urlsplit(options["--url"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unhealthy(f"healthcheck: --url {options['--url']!r} is not an http:// or https:// URL")
        host, tls = parts.hostname, parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        check = check._replace(path=path)
        host_header = host
    else:
        assert launch is not None
        if launch.kind != WEB:
            raise Unhealthy(f"process {selected!r} is a {launch.kind}: give --url, or --file for a heartbeat")
        if launch.bind is None:
            raise Unhealthy(f"the bind address of {selected!r} is not host:port (a unix socket?): give --url")
        host, port, tls = health.connect_host(launch.bind[0]), launch.bind[1], False
        host_header = request_host(process, env)
    headers = {"Host": host_header if port in (80, 443) else f"{host_header}:{port}"}
    where = f"{'https' if tls else 'http'}://{host}:{port}{check.path}"
    status, location = get(host, port, tls, check.path, headers, timeout)
    if 300 <= status < 400 and not tls and location.startswith("https://") and not check.passes(status):
        # Behind a TLS proxy with SECURE_SSL_REDIRECT: ask as the proxy would.
        status, location = get(host, port, tls, check.path, {**headers, "X-Forwarded-Proto": "https"}, timeout)
    if not check.passes(status):
        raise Unhealthy(f"GET {where} answered {status}, expected {check.expected()} ({check.setting})")
    return f"healthy: GET {where} answered {status}"


def request_host(process: object, env: Mapping[str, str]) -> str:
    """PROD_ENTRY_WARMUP_HOST, else what Django's ALLOWED_HOSTS accepts (importing the settings module
    only, never django.setup()), else localhost."""
    from entrypoint import health

    host = health.get(process, env, "WARMUP_HOST")  # type: ignore[arg-type]
    if host and host.strip():
        return host.strip()
    if not env.get("DJANGO_SETTINGS_MODULE"):
        return health.SAFE_HOST
    from entrypoint.django_settings import settings_module

    for key, value in env.items():  # settings read the .env file's variables from os.environ
        os.environ.setdefault(key, value)
    try:
        return health.host_from_allowed_hosts(getattr(settings_module(env, "the Host"), "ALLOWED_HOSTS", None))
    except Exception:
        return health.SAFE_HOST


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
