"""PROD_ENTRY_HEALTH_PORT: GET /ready and GET /live answered by the PID-1 supervisor itself, so that a Kubernetes
httpGet probe or a load balancer's HTTP check needs no view in the app. Imported by the supervisor only when the
port is set.

No thread and no timer. The listening socket, every accepted connection and every connection to the server are
non-blocking, with O_ASYNC and the supervisor as their owner (F_SETOWN): the kernel raises SIGIO when one of
them has something to do (F_SETSIG names it, so its si_code is POLL_IN/OUT/ERR/HUP, which kill() cannot send),
and the loop, which waits for every signal with sigwaitinfo anyway, takes one non-blocking step on every open
exchange. Only while a request is open does the loop have a deadline (the client gets CLIENT_TIMEOUT to send
it, the server the health check timeout to answer): an idle supervisor still never wakes, and no client or
server can hold up a signal.

What ready means comes from the serving file (state.py), read per request: the process that execs the program
writes it once prod-entry's checks, the release steps and the warmup have passed (where the server's own process
runs the warmup, that process puts it in place when the warmup passed), and says there how to tell that the
program answers: a GET of its health URL on its bind, or its heartbeat file.
"""

from __future__ import annotations

import _socket  # not socket: socket.py brings enum, selectors and collections (25 modules) into the supervisor
import errno
import fcntl
import os
import signal
import time

from entrypoint.init import state
from entrypoint.settings.errors import ConfigError

TYPE_CHECKING = False  # not typing's: the supervisor must stay small
if TYPE_CHECKING:
    from collections.abc import Mapping

VAR = "PROD_ENTRY_HEALTH_PORT"
SIGNAL = signal.SIGIO
F_SETSIG = getattr(fcntl, "F_SETSIG", 10)  # Linux's number, where the module does not name it
CLIENT_TIMEOUT = 1.0  # seconds a client has to send its request: then it is dropped
MAX_OPEN = 16  # requests at once; connections beyond are closed unanswered
MAX_REQUEST = 8192
PATHS = {"/ready": "ready", "/live": "live"}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           503: "Service Unavailable"}


def port(environ: Mapping[str, str]) -> int | None:
    """PROD_ENTRY_HEALTH_PORT, None when unset (off)."""
    raw = environ.get(VAR, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{VAR}={raw!r} is not a TCP port: set it to a number from 1 to 65535, or unset it")
    return int(raw)


def listen(number: int) -> int:
    """The file descriptor of a socket listening on every address (IPv6 and IPv4 where the kernel has both,
    else IPv4). Called before the fork, so that a port in use stops the start before anything runs."""
    problem = "no IPv4 or IPv6 socket"
    for family, host in ((_socket.AF_INET6, "::"), (_socket.AF_INET, "0.0.0.0")):
        try:
            sock = _socket.socket(family, _socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if family == _socket.AF_INET6:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
            sock.bind((host, number))
            sock.listen(64)
            return sock.detach()
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"{VAR}={number}: the port is already in use: choose another one (not the "
                                  "server's own)") from None
            problem = exc.strerror or str(exc)
    raise ConfigError(f"{VAR}={number}: cannot listen on it ({problem}): choose another port")


def arm(sock: _socket.socket) -> None:
    """Non-blocking, and SIGIO to this process whenever it can be read or written, or fails."""
    sock.setblocking(False)
    fd = sock.fileno()
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(fd, F_SETSIG, SIGNAL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)


class HealthPort:
    """The listening socket and the requests open on it."""

    def __init__(self, fd: int, serving_file: str) -> None:
        self.listener = _socket.socket(fileno=fd)
        arm(self.listener)
        self.serving_file = serving_file
        self.open: list[Exchange] = []

    @staticmethod
    def raised(info: signal.struct_siginfo) -> bool:
        """Whether the kernel raised this signal for one of our sockets: a SIGIO someone sent (si_code SI_USER
        or SI_QUEUE, never above 0) is forwarded as any other."""
        return info.si_signo == SIGNAL and info.si_code > 0

    def deadline(self) -> float | None:
        """When the loop must look again without a signal: the earliest deadline of an open request."""
        return min((exchange.deadline for exchange in self.open), default=None)

    def step(self, draining: bool) -> None:
        """Take every waiting connection, then move each open request on as far as it goes without blocking."""
        while True:
            try:
                fd, _ = self.listener._accept()  # type: ignore[attr-defined]  # socket.py's accept() wraps it
            except OSError:  # BlockingIOError: none left; anything else (EMFILE...): nothing to serve now
                break
            client = _socket.socket(fileno=fd)
            if len(self.open) >= MAX_OPEN:
                client.close()
                continue
            arm(client)
            self.open.append(Exchange(client, time.monotonic() + CLIENT_TIMEOUT))
        self.open = [exchange for exchange in self.open if not exchange.step(self, draining)]

    def judge(self, what: str, draining: bool) -> tuple[bool, str] | Probe:
        """The verdict on /ready or /live, or the probe of the server it waits for."""
        live = what == "live"
        if draining:
            return (True, "stopping: TERM received, the server shuts down") if live else \
                (False, "draining: TERM received, the server is about to stop")
        facts = state.read_serving(self.serving_file)
        if facts is None:
            return live, "starting: prod-entry's checks, release steps or warmup have not passed yet"
        kind = facts.get("kind")
        if kind == "http":
            return Probe(facts)
        if kind == "heartbeat":
            return heartbeat(live, facts, self.serving_file)
        return True, f"running: {facts.get('why') or 'the program has no probe of its own'}"

    def close(self) -> None:
        for exchange in self.open:
            exchange.finish(b"")
        self.listener.close()


def settle(what: str, draining: bool, status: int | None, why: str) -> tuple[bool, str]:
    """The verdict once the server answered (`status`) or not (None): live on any answer, ready below 500."""
    if draining and what == "ready":  # TERM arrived while the server was asked
        return False, "draining: TERM received, the server is about to stop"
    return status is not None and (what == "live" or status < 500), why


def heartbeat(live: bool, facts: dict[str, str], serving_file: str) -> tuple[bool, str]:
    """Ready on a heartbeat written since the start and younger than its max age; live on that too, or while the
    worker has not had its max age yet to write its first."""
    path, max_age = facts.get("file", ""), float(facts.get("max_age") or 60)
    now = time.time()
    started, beat = modified(serving_file) or now, modified(path)
    if beat is not None and beat >= started - 1:  # an older one is a previous run's
        age = now - beat
        fresh = age <= max_age
        return fresh, f"{'' if fresh else 'stale '}heartbeat: {path} is {age:.0f}s old (max {max_age:g}s)"
    if live and now - started <= max_age:
        return True, f"started {now - started:.0f}s ago, no heartbeat yet in {path} (max {max_age:g}s)"
    return False, f"no heartbeat: {path} not written since the worker started {now - started:.0f}s ago"


def modified(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class Probe:
    """A GET of the health URL on the server's bind, non-blocking: over once the status line is in, the
    connection fails or the timeout passes. Any status is an answer: /live asks only that, /ready below 500."""

    def __init__(self, facts: dict[str, str]) -> None:
        host, number, path = facts.get("host", "127.0.0.1"), int(facts.get("port") or 0), facts.get("path", "/")
        self.where = f"GET {path} on {f'[{host}]' if ':' in host else host}:{number}"
        self.timeout = float(facts.get("timeout") or 5)
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout
        self.request = (f"GET {path} HTTP/1.0\r\nHost: {facts.get('host_header') or host}\r\n"
                        "User-Agent: prod-entry-health-port\r\nConnection: close\r\n\r\n").encode("latin-1")
        self.received = b""
        self.sock = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
        arm(self.sock)  # before connecting: its completion or failure raises the SIGIO
        self.error = self.sock.connect_ex((host, number))

    def step(self) -> tuple[int | None, str] | None:
        """None while waiting; else (the status, or None for no answer; what happened)."""
        try:
            if self.error not in (0, errno.EINPROGRESS, errno.EAGAIN):
                raise OSError(self.error, os.strerror(self.error))
            while self.request:  # a still-connecting socket takes nothing yet: BlockingIOError
                self.request = self.request[self.sock.send(self.request):]
            while b"\n" not in self.received and len(self.received) < MAX_REQUEST:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return self.over(None, "the connection closed without an answer")
                self.received += chunk
        except BlockingIOError:
            if time.monotonic() < self.deadline:
                return None
            return self.over(None, f"no answer within {self.timeout:g}s")
        except OSError as exc:
            return self.over(None, exc.strerror or str(exc))
        words = self.received.split(b"\n", 1)[0].split()
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            return self.over(None, "not an HTTP answer")
        milliseconds = (time.monotonic() - self.started) * 1000
        return self.over(int(words[1]), f"answered {int(words[1])} in {milliseconds:.0f} ms")

    def over(self, status: int | None, what: str) -> tuple[int | None, str]:
        finish(self.sock)
        return status, f"{self.where}: {what}"


class Exchange:
    """One request on the health port: read it, judge it (asking the server where that is the answer), answer
    it, close."""

    def __init__(self, client: _socket.socket, deadline: float) -> None:
        self.client = client
        self.deadline = deadline
        self.received = b""
        self.what = ""  # ready or live, once the request is read
        self.head = False
        self.probe: Probe | None = None

    def step(self, port: HealthPort, draining: bool) -> bool:
        """One non-blocking step; True once answered (or dropped) and closed."""
        if self.probe is None:
            request = self.request()
            if request is None:
                return time.monotonic() >= self.deadline and self.finish(b"")  # silent too long: dropped
            method, path = request
            self.head = method == "HEAD"
            if path not in PATHS:
                what = f"no {path[:100]} here" if path else "not an HTTP request"
                return self.answer(404 if path else 400, f'"error": {quote(what + ": GET /ready or /live")}')
            if method not in ("GET", "HEAD"):
                return self.answer(405, f'"error": {quote(method[:20] + " " + path + ": only GET and HEAD")}',
                                   "Allow: GET, HEAD\r\n")
            self.what = PATHS[path]
            verdict = port.judge(self.what, draining)
            if not isinstance(verdict, Probe):
                return self.verdict(*verdict)
            self.probe, self.deadline = verdict, verdict.deadline
        result = self.probe.step()
        return False if result is None else self.verdict(*settle(self.what, draining, *result))

    def request(self) -> tuple[str, str] | None:
        """(method, path without its query) once the request's head is in; ("", "") for one that cannot be
        served; None while it is coming."""
        try:
            while b"\r\n\r\n" not in self.received and b"\n\n" not in self.received:
                chunk = self.client.recv(4096)
                if not chunk:
                    return "", ""
                self.received += chunk
                if len(self.received) > MAX_REQUEST:
                    return "", ""
        except BlockingIOError:
            return None
        except OSError:
            return "", ""
        words = self.received.split(b"\n", 1)[0].decode("latin-1").split()
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            return "", ""
        return words[0], words[1].partition("?")[0]

    def verdict(self, ok: bool, why: str) -> bool:
        return self.answer(200 if ok else 503, f'"{self.what}": {"true" if ok else "false"}, "why": {quote(why)}')

    def answer(self, code: int, fields: str, extra: str = "") -> bool:
        body = ("{" + fields + "}\n").encode()
        head = (f"HTTP/1.1 {code} {REASONS[code]}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                f"\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}\r\n").encode("latin-1")
        return self.finish(head if self.head else head + body)

    def finish(self, data: bytes) -> bool:
        """Send what fits (an answer is far below a socket's buffer), close; True."""
        if data:
            try:
                self.client.send(data)
            except OSError:
                pass
        finish(self.client)
        if self.probe is not None and self.probe.sock.fileno() >= 0:
            finish(self.probe.sock)
        return True


def finish(sock: _socket.socket) -> None:
    """Close, after reading what is left unread: closing on unread bytes sends a reset, which can destroy the
    answer before the peer reads it."""
    try:
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()


def quote(text: str) -> str:
    """`text` as a JSON string (the json module brings re into the supervisor)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped) + '"'
