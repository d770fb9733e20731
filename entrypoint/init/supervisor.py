"""The PID-1 supervisor. When prod-entry is a container's init, it forks: the child goes on to resolve and
exec the program; this process stays behind, forwards signals to it, reaps every orphan, cleans up what is
left when the program exits, and exits with the program's status.

It runs first in the console script, before click, dotenv or Django are imported, and it stays that way:
os, signal, sys, time and prod-entry's own errors, log and state modules (which import nothing more),
plus ctypes for the subreaper prctl, fcntl/termios for a terminal and healthport.py (_socket, fcntl, errno)
for PROD_ENTRY_HEALTH_PORT, each only when needed. Its settings therefore come from the real environment only,
never from a .env file (the child reads that later).
"""

from __future__ import annotations

import os
import signal
import sys
import time

from entrypoint.init import state
from entrypoint.logs import log
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.names import LOG_PROCESS_VAR
from entrypoint.settings.units import seconds

TYPE_CHECKING = False  # typing is not imported at run time: the supervisor must stay small
if TYPE_CHECKING:
    from collections.abc import Mapping

    from entrypoint.init.healthport import HealthPort

UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
# Never forwarded: SIGCHLD is ours, and a fault signal sent with kill() means nothing to the child.
NOT_FORWARDED = frozenset({signal.SIGCHLD, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                           signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS})
CATCHABLE = frozenset(signal.valid_signals()) - UNCATCHABLE
# Job-control signals: forwarded, then the supervisor stops itself so the shell sees the job stop (dumb-init).
TTY_STOPS = frozenset({signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
# Forwarding one of these starts PROD_ENTRY_STOP_TIMEOUT.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})

MODES = ("auto", "always", "never")
# Read by the supervisor before anything else, so from the real environment only: a .env file is not read yet.
INIT_SETTINGS = ("PROD_ENTRY_INIT", "PROD_ENTRY_SIGNAL_TARGET", "PROD_ENTRY_SIGNAL_REWRITE", "PROD_ENTRY_EXIT_REMAP",
                 "PROD_ENTRY_SHUTDOWN_DELAY", "PROD_ENTRY_STOP_TIMEOUT", "PROD_ENTRY_STATE_DIR",
                 "PROD_ENTRY_HEALTH_PORT")
PROCESS_VAR = LOG_PROCESS_VAR
DEFAULT_GRACE = 5.0  # seconds leftover processes get after the main process exits, when no STOP_TIMEOUT
PR_SET_CHILD_SUBREAPER = 36


class Settings:
    """PROD_ENTRY_INIT and friends, validated."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.mode = environ.get("PROD_ENTRY_INIT", "").strip().lower() or "auto"
        if self.mode not in MODES:
            raise ConfigError(f"PROD_ENTRY_INIT={environ['PROD_ENTRY_INIT']!r} is not a mode: use auto (supervise "
                              "only as PID 1), always or never")
        target = environ.get("PROD_ENTRY_SIGNAL_TARGET", "").strip().lower() or "child"
        if target not in ("child", "group"):
            raise ConfigError(f"PROD_ENTRY_SIGNAL_TARGET={target!r} is not a target: use child (the main process) "
                              "or group (its whole process group)")
        self.group = target == "group"
        self.rewrite = parse_rewrite(environ.get("PROD_ENTRY_SIGNAL_REWRITE", ""))
        self.exit_remap = parse_exit_remap(environ.get("PROD_ENTRY_EXIT_REMAP", ""))
        self.shutdown_delay = parse_seconds(environ, "PROD_ENTRY_SHUTDOWN_DELAY") or 0.0
        self.stop_timeout = parse_seconds(environ, "PROD_ENTRY_STOP_TIMEOUT")
        self.grace = DEFAULT_GRACE if self.stop_timeout is None else self.stop_timeout
        self.state_dir = state.state_dir(environ)
        # Both named for this instance (start() has set the process name by now).
        self.draining_file = state.draining_file(environ)  # `prod-entry healthcheck` is not ready while it exists
        self.serving_file = state.serving_file(environ)  # what the health port's /ready asks of the program
        self.health_port = None
        if environ.get("PROD_ENTRY_HEALTH_PORT", "").strip():
            from entrypoint.init import healthport

            self.health_port = healthport.port(environ)
            if self.mode == "never":
                raise ConfigError("PROD_ENTRY_HEALTH_PORT is served by the supervisor, which PROD_ENTRY_INIT=never "
                                  "turns off: unset one of them")
        # A bad PROD_ENTRY_LOG_* value is the child's to report. The process name is start()'s guess from argv.
        self.log = log.from_env(environ, environ.get(PROCESS_VAR), name="prod-entry.init")


def parse_seconds(environ: Mapping[str, str], var: str) -> float | None:
    """A non-negative number of seconds, or None when unset."""
    raw = environ.get(var, "").strip()
    if not raw:
        return None
    value = seconds(raw, zero=True)
    if value is None:
        raise ConfigError(f"{var}={raw!r} is not a number of seconds: use a number like 5 or 2.5")
    return value


def parse_signal(word: str, var: str) -> int:
    """TERM, SIGTERM, term or 15."""
    name = word.strip().upper()
    if name.isdigit():
        number = int(name)
        if number in signal.valid_signals():
            return number
    else:
        try:
            return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
        except KeyError:
            pass
    raise ConfigError(f"{var}: {word.strip()!r} is not a signal: use a name like TERM or a number like 15")


def parse_rewrite(raw: str) -> dict[int, int]:
    """"TERM:QUIT,WINCH:0" -> {SIGTERM: SIGQUIT, SIGWINCH: 0}; 0 drops the signal."""
    var = "PROD_ENTRY_SIGNAL_REWRITE"
    rewrite: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        source, sep, target = item.partition(":")
        if not sep:
            raise ConfigError(f"{var}: {item!r} is not SIGNAL:SIGNAL: write it like TERM:QUIT (or WINCH:0 to drop)")
        number = parse_signal(source, var)
        if number in UNCATCHABLE or number in NOT_FORWARDED:
            raise ConfigError(f"{var}: {source.strip()} is never forwarded, so it cannot be rewritten: remove it")
        rewrite[number] = 0 if target.strip() == "0" else parse_signal(target, var)
    return rewrite


def parse_exit_remap(raw: str) -> dict[int, int]:
    """"143:0,137:0" -> {143: 0, 137: 0}."""
    var = "PROD_ENTRY_EXIT_REMAP"
    remap: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        source, sep, target = item.partition(":")
        codes = [word.strip() for word in (source, target)]
        if not sep or not all(code.isdigit() and int(code) <= 255 for code in codes):
            raise ConfigError(f"{var}: {item!r} is not CODE:CODE with codes 0-255: write it like 143:0")
        remap[int(codes[0])] = int(codes[1])
    return remap


def start() -> None:
    """The first thing the console script does. Returns in the process that goes on to exec the program: this
    one when there is nothing to supervise, the forked child otherwise. The supervisor never returns."""
    # `healthcheck` outside PID 1 is a probe run by `docker exec` every few seconds: it execs nothing, so
    # there is nothing to supervise even in `always` mode.
    probe = sys.argv[1:2] == ["healthcheck"]
    # For the `process` of JSON lines and the name of this instance's markers (state.py), before the child
    # resolves it: the NAME word, else the default process. Not for a probe: its NAME is its own business.
    words = [word for word in sys.argv[1:] if not word.startswith("-")]
    if not probe:
        os.environ.setdefault(PROCESS_VAR, state.process_name(os.environ, words[0] if words else None))
    try:
        settings = Settings(os.environ)
    except ConfigError as exc:
        log.from_env(os.environ).error(str(exc))
        # Docker reserves a HEALTHCHECK's exit 2: a probe answers 1 (unhealthy) for any failure.
        sys.exit(1 if probe else exc.exit_code)
    pid1 = os.getpid() == 1
    # The health port is the supervisor's to serve: outside PID 1 it supervises as in `always` mode.
    wanted = settings.mode == "always" or settings.health_port is not None
    if settings.mode == "never" or (not pid1 and (not wanted or probe)):
        if pid1:
            settings.log.warning("PROD_ENTRY_INIT=never: running as PID 1 without a supervisor; reaping "
                             "zombies and handling signals are now the program's job")
        return
    # Left by a previous run of this instance (the names are this instance's own: no other's is touched).
    state.remove(settings.draining_file, settings.serving_file, settings.serving_file + state.PENDING)
    if not pid1 and not become_subreaper():
        settings.log.warning(f"{'PROD_ENTRY_INIT=always' if settings.mode == 'always' else 'PROD_ENTRY_HEALTH_PORT'}"
                             ": cannot become a child subreaper (prctl failed); orphans will go to the real init "
                             "instead")
    listener = None
    if settings.health_port is not None:
        from entrypoint.init import healthport

        try:
            listener = healthport.listen(settings.health_port)  # before the fork: a port in use stops it all
        except ConfigError as exc:
            settings.log.error(str(exc))
            sys.exit(exc.exit_code)
        os.environ[state.SERVING_VAR] = settings.serving_file  # for the child: where to say it serves
    # Block every signal before the fork, so nothing sent between now and sigwaitinfo is lost.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)
    tty = release_terminal()
    child = os.fork()
    if child == 0:
        if listener is not None:
            os.close(listener)  # the port is the supervisor's alone
        become_session(tty, old_mask)
        return
    restart_lean(child, listener)
    supervise(child, listener)


def restart_lean(child: int, listener: int | None = None) -> None:
    """Replace this interpreter, which carries what the console script loaded (site, the installer's import
    hooks, re), by a bare `python -I -S` that loads only this module: the supervisor then costs what bare
    Python costs. The blocked mask, pending signals, our children and the subreaper flag all survive exec.
    (A SIGPIPE or SIGXFSZ sent during the restart's milliseconds is lost: Python ignores them at start-up.)
    Returns only if the exec failed (the supervisor then runs here, just bigger)."""
    # The directory that holds the entrypoint package: entrypoint/init/supervisor.py is three levels below it.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import sys; sys.path.insert(0, {root!r}); from entrypoint.init.supervisor import supervise; " \
        f"supervise({child}, {listener})"
    if listener is not None:
        os.set_inheritable(listener, True)  # the health port's socket, kept across the exec
    if sys.executable:
        try:
            os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", code, *sys.argv])
        except OSError:
            pass


def supervise(child: int, listener: int | None = None) -> None:
    """Forward, reap and clean up until `child` has exited, then exit with its status. Never returns.
    `listener`: the health port's listening socket, opened before the fork."""
    settings = Settings(os.environ)  # validated before the fork
    pid1 = os.getpid() == 1
    port = None
    if listener is not None:
        from entrypoint.init import healthport

        port = healthport.HealthPort(listener, settings.serving_file)
        settings.log.debug(f"health port {settings.health_port}: GET /ready and /live")
    settings.log.debug(f"supervising pid {child} as {'PID 1' if pid1 else 'a subreaper'}; "
                       f"modules loaded: {' '.join(sorted(sys.modules))}")
    sys.exit(Supervisor(child, settings, pid1, port).run())


def become_subreaper() -> bool:
    """Orphans below us come to us rather than to the real init (tini -s)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def release_terminal() -> bool:
    """When stdin is our controlling terminal and we lead its session, let it go so that the child's new
    session can take it (dumb-init). Returns whether stdin is a terminal."""
    if not os.isatty(0):
        return False
    if os.getsid(0) == os.getpid():
        import fcntl
        import termios

        try:
            fcntl.ioctl(0, termios.TIOCNOTTY)
        except OSError:
            return True
        # Letting go sends SIGHUP and SIGCONT to our (foreground) group: they are not for the child (dumb-init
        # #136). They are blocked, so they wait here to be taken.
        for sig in (signal.SIGHUP, signal.SIGCONT):
            if sig in signal.sigpending():
                signal.sigtimedwait([sig], 0)
    return True


def become_session(tty: bool, old_mask: set[int | signal.Signals]) -> None:
    """In the child: a session and process group of its own (so a group signal reaches its workers and not
    us), the terminal's foreground when there is one, then the signal mask it had before the fork."""
    os.setsid()
    if tty:
        import fcntl
        import termios

        try:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            os.tcsetpgrp(0, os.getpgrp())  # SIGTTOU is still blocked, so this cannot stop us
        except OSError:
            pass  # the terminal belongs to another session: reading it still works, job control does not
    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Supervisor:
    """The loop: wait for a signal, forward it or reap, until the main process has exited; then clean up."""

    def __init__(self, child: int, settings: Settings, pid1: bool, port: HealthPort | None = None) -> None:
        self.child = child
        self.port = port
        self.settings = settings
        self.pid1 = pid1
        self.status: int | None = None  # the main process's exit code, once it has exited
        self.stopping = False  # a TERM has arrived
        self.delay_until: float | None = None  # TERM is held back until then (PROD_ENTRY_SHUTDOWN_DELAY)
        self.kill_at: float | None = None  # KILL the main process's group then (PROD_ENTRY_STOP_TIMEOUT)
        self.marker: str | None = None  # the draining marker, while we own it
        self.sent: set[int] = set()  # the signals we gave the main process: its death by one of them is no news
        self.ooms = oom_kills()  # the cgroup's OOM-kill count now, to tell later whether the OOM killer struck

    def run(self) -> int:
        try:
            if self.port:
                self.port.step(False)  # connections made before the socket raised SIGIO: none will come for them
            while self.status is None:
                port_deadline = self.port.deadline() if self.port else None  # only while a request is open
                deadline = min((t for t in (self.delay_until, self.kill_at, port_deadline) if t is not None),
                               default=None)
                if deadline is None:
                    info: signal.struct_siginfo | None = signal.sigwaitinfo(CATCHABLE)  # no timeout: no wake-ups
                else:
                    info = signal.sigtimedwait(CATCHABLE, max(0.0, deadline - time.monotonic()))
                from_port = False
                if info is not None:
                    from_port = self.port is not None and self.port.raised(info)
                    if not from_port:
                        self.handle(info.si_signo)
                self.check_deadlines()
                if self.port and (from_port or port_deadline is not None):
                    self.port.step(self.draining())
            self.clean_up()
        finally:
            leftovers = [self.marker] if self.marker else []
            if self.port:
                self.port.close()
                leftovers += [self.settings.serving_file, self.settings.serving_file + state.PENDING]
            state.remove(*leftovers)
        return self.settings.exit_remap.get(self.status, self.status)

    def draining(self) -> bool:
        """From the first TERM (held for the shutdown delay or not) or any stop signal passed on: /ready fails."""
        return self.stopping or any(sig in STOP_SIGNALS for sig in self.sent)

    def handle(self, sig: int) -> None:
        if sig == signal.SIGCHLD:
            self.reap()
        elif sig in NOT_FORWARDED:
            pass
        elif sig == signal.SIGTERM and not self.stopping and self.settings.shutdown_delay > 0:
            self.stopping = True
            self.delay_until = time.monotonic() + self.settings.shutdown_delay
            self.mark_draining()
            self.settings.log.info(f"TERM received: still serving for PROD_ENTRY_SHUTDOWN_DELAY="
                                   f"{self.settings.shutdown_delay:g}s before passing it on")
        else:
            if sig == signal.SIGTERM:
                self.stopping = True
                self.delay_until = None  # a second TERM ends the delay
            self.forward(sig)
            if sig in TTY_STOPS:
                os.kill(os.getpid(), signal.SIGSTOP)  # a no-op as PID 1; else the shell sees the job stop

    def forward(self, sig: int) -> None:
        target = self.settings.rewrite.get(sig, sig)
        if target == 0:
            return
        try:
            if self.settings.group:
                try:
                    os.killpg(self.child, target)
                except ProcessLookupError:
                    os.kill(self.child, target)  # it has not called setsid yet
            else:
                os.kill(self.child, target)
        except ProcessLookupError:
            return
        self.sent.add(target)
        if sig in STOP_SIGNALS and self.settings.stop_timeout is not None and self.kill_at is None:
            self.kill_at = time.monotonic() + self.settings.stop_timeout

    def check_deadlines(self) -> None:
        now = time.monotonic()
        if self.delay_until is not None and now >= self.delay_until:
            self.delay_until = None
            self.forward(signal.SIGTERM)
        if self.kill_at is not None and now >= self.kill_at and self.status is None:
            self.kill_at = None
            self.settings.log.warning(f"the main process (pid {self.child}) is still running "
                                      f"PROD_ENTRY_STOP_TIMEOUT={self.settings.stop_timeout:g}s after it was "
                                      "told to stop: killing its process group")
            self.sent.add(signal.SIGKILL)
            for kill in (os.killpg, os.kill):
                try:
                    kill(self.child, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def mark_draining(self) -> None:
        """The file `prod-entry healthcheck` looks for to report not-ready while the delay runs."""
        path = self.settings.draining_file
        try:
            os.makedirs(self.settings.state_dir, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            self.settings.log.warning(f"cannot write the draining marker {path} ({exc.strerror}): health "
                                      "checks will not see the shutdown delay; set PROD_ENTRY_STATE_DIR to "
                                      "a writable directory")
            return
        self.marker = path  # health checks look only for the file: the pid in it is a courtesy
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # a full disk takes the pid, not the marker
        finally:
            os.close(fd)

    def reap(self) -> bool:
        """Collect every exited child (one SIGCHLD may stand for many). Returns whether children remain."""
        name = comm(self.child) if self.status is None else None  # readable until it is reaped, zombie or not
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child:
                self.status = exit_code(status)
                if os.WIFSIGNALED(status) and os.WTERMSIG(status) not in self.sent:
                    self.say_killed(os.WTERMSIG(status), name)

    def say_killed(self, sig: int, name: str | None) -> None:
        """One line when the main process died from a signal nobody here sent (kill -9, the OOM killer): the exit
        status alone (137) says neither what died nor why."""
        why = ""
        ooms = oom_kills()
        if ooms is not None and self.ooms is not None and ooms[0] > self.ooms[0]:
            why = f" (the OOM killer: {ooms[1]} oom_kill {ooms[0] - self.ooms[0]}; raise the memory limit or use " \
                  "less: fewer workers, PROD_ENTRY_CONCURRENCY)"
        self.settings.log.error(f"the main process ({name + ', pid' if name else 'pid'} {self.child}) was killed by "
                                f"{signal.Signals(sig).name}{why}")

    def clean_up(self) -> None:
        """The main process has exited: TERM whatever is left, KILL it after the grace, reap it all."""
        if not self.reap():
            return
        self.signal_rest(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.grace
        while self.reap():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.settings.log.warning(f"processes still running {self.settings.grace:g}s after the main "
                                          "process exited: killing them")
                self.signal_rest(signal.SIGKILL)
                while True:
                    try:
                        os.waitpid(-1, 0)
                    except ChildProcessError:
                        return
            signal.sigtimedwait([signal.SIGCHLD], remaining)

    def signal_rest(self, sig: int) -> None:
        if self.pid1:
            targets = [-1]  # everything in the PID namespace but us
        else:
            targets = descendants(os.getpid()) or [-self.child]
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def comm(pid: int) -> str | None:
    """The program name of `pid` (what it exec'd: gunicorn, celery), None once it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as file:
            return file.read().strip() or None
    except OSError:
        return None


def oom_kills() -> tuple[int, str] | None:
    """(the OOM killer's kill count in this process's memory cgroup, the file it came from), or None where no
    cgroup says: cgroup v2 memory.events (also under a hybrid's unified mount), v1 memory.oom_control."""
    try:
        with open("/proc/self/cgroup") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    places = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            places += [f"/sys/fs/cgroup{path}/memory.events", f"/sys/fs/cgroup/unified{path}/memory.events"]
        elif "memory" in controllers.split(","):
            places.append(f"/sys/fs/cgroup/memory{path}/memory.oom_control")
    for place in places:
        try:
            with open(place) as file:
                for entry in file.read().splitlines():
                    key, _, value = entry.partition(" ")
                    if key == "oom_kill" and value.strip().isdigit():
                        return int(value), place.rpartition("/")[2]
        except OSError:
            continue
    return None


def descendants(root: int) -> list[int]:
    """Every process below `root`, found through /proc (empty if /proc is not this PID namespace's)."""
    try:
        if int(os.readlink("/proc/self")) != os.getpid():
            return []
        entries = [name for name in os.listdir("/proc") if name.isdigit()]
    except (OSError, ValueError):
        return []
    children: dict[int, list[int]] = {}
    for name in entries:
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    found: list[int] = []
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found
