"""PROD_ENTRY_WAIT_FOR: services that must accept TCP connections before the app starts, and the port check
(servermgr's address_free_check): a bind address already taken is one clear line, not gunicorn's retry loop."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Mapping

from entrypoint.health import rules
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError, WaitTimeout

DEFAULT_TIMEOUT = 60.0
PROGRESS_EVERY = 5.0
# Ports for URLs that name none.
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "psql": 5432, "pgsql": 5432, "mysql": 3306,
                 "mariadb": 3306, "redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "mongodb": 27017,
                 "memcache": 11211, "memcached": 11211, "http": 80, "https": 443, "nats": 4222, "kafka": 9092}


def targets(text: str, var: str) -> list[tuple[str, int]]:
    """`db:5432, redis://:pw@cache/0 postgres://u:p@db/app` -> [(host, port), ...]; credentials dropped."""
    found: list[tuple[str, int]] = []
    for word in text.replace(",", " ").split():
        if "://" in word:
            from urllib.parse import urlsplit  # here: every start passes through this module, few name a URL

            parts = urlsplit(word)
            try:
                host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.split("+")[-1])
            except ValueError:
                host, port = None, None
            if not host or not port:
                raise ConfigError(f"{var}: cannot tell the host and port of the {parts.scheme}:// URL: write the "
                                  "port in it, or host:port")
        else:
            host, sep, number = word.rpartition(":")
            host = host.strip("[]")
            if not sep or not host or not number.isdigit() or not 0 < int(number) < 65536:
                raise ConfigError(f"{var}: {word!r} is neither host:port nor a URL: write e.g. db:5432 or "
                                  "postgres://db/app")
            port = int(number)
        if (host, port) not in found:
            found.append((host, port))
    return found


def accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    import socket  # here and below: most starts wait for nothing and check no port (socket costs ~2 ms)

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait(process: Process | None, env: Mapping[str, str], log: Callable[[str], None],
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once every PROD_ENTRY_WAIT_FOR service accepts a connection; raise WaitTimeout otherwise."""
    text = rules.get(process, env, "WAIT_FOR") or ""
    pending = targets(text, rules.setting_name(process, "WAIT_FOR"))
    if not pending:
        return
    timeout = rules.seconds(process, env, "WAIT_TIMEOUT", DEFAULT_TIMEOUT)
    started = clock()
    next_progress = started
    while True:
        pending = [t for t in pending if not accepts(*t, timeout=min(1.0, timeout))]
        now = clock()
        if not pending:
            log(f"wait-for: every service accepts connections ({now - started:.1f}s)")
            return
        names = ", ".join(f"{h}:{p}" for h, p in pending)
        if now - started >= timeout:
            raise WaitTimeout(f"wait-for: {names} still not accepting connections after {timeout:g}s: start "
                              f"it, fix {rules.setting_name(process, 'WAIT_FOR')} or raise "
                              f"{rules.setting_name(process, 'WAIT_TIMEOUT')}")
        if now >= next_progress:
            log(f"wait-for: waiting for {names} ({now - started:.0f}s of {timeout:g}s)")
            next_progress = now + PROGRESS_EVERY
        sleep(min(0.5, max(0.0, started + timeout - now)))


def address_in_use(host: str, port: int) -> bool:
    """Whether a server could not listen on (host, port) now. Binds with SO_REUSEADDR, as the servers do, so a
    socket left in TIME_WAIT by a previous run is not taken for a listener. Other failures raise OSError."""
    import socket

    # A str host goes through the idna codec (encodings.idna, stringprep, unicodedata: ~1 ms of imports on every
    # web start); an ASCII one, which it would return unchanged, can be given as bytes.
    name = host.encode() if host and host.isascii() else host or None
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check_port_free(bind: tuple[str, int] | None, what: str) -> None:
    """Raise ConfigError if another process already listens on `bind` (servermgr's address_free_check)."""
    if bind is None:
        return
    host, port = bind
    try:
        taken = address_in_use(host, port)
    except OSError:
        return  # an unknown host or an address not ours: the server will say so in its own words
    if taken:
        raise ConfigError(f"{host}:{port} is already in use by another process: stop it, or move this server "
                          f"with {what}")
