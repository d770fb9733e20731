"""prod-entry's own output: one line per message on stderr, as text or JSON, secrets masked.

Deliberately not the `logging` module: this runs before every exec, and a line to stderr is all it needs.
"""

from __future__ import annotations

import os
import sys
import time

from entrypoint.settings.names import LOG_PROCESS_VAR

TYPE_CHECKING = False  # not typing's: the PID-1 supervisor imports this module and must stay small
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
FORMATS = ("text", "json")


class Logger:
    def __init__(self, fmt: str = "text", level: str = "info", process: str | None = None,
                 redact: Callable[[str], str] = lambda text: text, name: str = "prod-entry") -> None:
        self.fmt = fmt
        self.name = name  # the `logger` of JSON lines: prod-entry, or prod-entry.init for the PID-1 supervisor
        self.threshold = LEVELS[level]
        self.process = process
        self.redact = redact

    def emit(self, level: str, message: str, multiline: bool = False) -> None:
        """One line per message (newlines escaped) unless `multiline`, which is for tracebacks only."""
        if LEVELS[level] < self.threshold:
            return
        message = self.redact(message)
        if not multiline:
            message = message.replace("\r", "\\r").replace("\n", "\\n")
        if self.fmt == "json":
            import json

            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
            line = json.dumps({"time": stamp, "level": level, "logger": self.name, "message": message,
                               "process": self.process, "pid": os.getpid()})
        else:
            line = f"prod-entry: {message}" if level in ("debug", "info") else f"prod-entry: {level}: {message}"
        write(line + "\n")

    def debug(self, message: str) -> None:
        self.emit("debug", message)

    def info(self, message: str) -> None:
        self.emit("info", message)

    def warning(self, message: str) -> None:
        self.emit("warning", message)

    def error(self, message: str) -> None:
        self.emit("error", message)


def _settings(env: Mapping[str, str]) -> tuple[str, str]:
    return env.get("PROD_ENTRY_LOG_FORMAT", "text").lower(), env.get("PROD_ENTRY_LOG_LEVEL", "info").lower()


def write(text: str) -> None:
    """One line to stderr, straight to its file descriptor: a write that fails (stderr closed, or a file on a
    full disk) is lost whole. Through sys.stderr it would stay in the buffer, and Python's final flush at exit
    would fail again and turn the exit status into 120. Losing a log line must never change what we do."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an object without a descriptor (Celery's)
        fd = None
    if not isinstance(fd, int):
        fd = None
    try:
        sys.stderr.flush()  # what print() left there goes first
        if fd is None:
            sys.stderr.write(text)
            sys.stderr.flush()
        else:
            os.write(fd, text.encode("utf-8", "backslashreplace"))
    except (AttributeError, OSError, ValueError):  # no stderr at all (None) is the same loss
        pass


def settings_error(env: Mapping[str, str]) -> str | None:
    """The message for a bad PROD_ENTRY_LOG_* value, or None."""
    fmt, level = _settings(env)
    if fmt not in FORMATS:
        return f"PROD_ENTRY_LOG_FORMAT={fmt!r} is not a log format: use text or json"
    if level not in LEVELS:
        return f"PROD_ENTRY_LOG_LEVEL={level!r} is not a log level: use one of {', '.join(LEVELS)}"
    access = env.get("PROD_ENTRY_ACCESS_LOG", "").strip().lower()
    if access and access not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
        return f"PROD_ENTRY_ACCESS_LOG={access!r} is not a switch: write 1 (access lines on) or 0 (off)"
    return None


def from_env(env: Mapping[str, str] = os.environ, process: str | None = None,
             redact: Callable[[str], str] = lambda text: text, name: str = "prod-entry") -> Logger:
    """A logger configured from PROD_ENTRY_LOG_FORMAT / PROD_ENTRY_LOG_LEVEL (bad values fall back to the
    defaults here; `settings_error` reports them)."""
    fmt, level = _settings(env)
    process = process or env.get(LOG_PROCESS_VAR)  # in a server's process: what prod-entry exported
    return Logger(fmt if fmt in FORMATS else "text", level if level in LEVELS else "info", process, redact, name)
