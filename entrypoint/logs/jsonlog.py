"""JSON log lines for the servers and workers prod-entry execs (PROD_ENTRY_LOG_FORMAT=json): one formatter for
the `logging` module, shared by each server's wiring in backends/<server>/, and the rule for the project's own
handlers. prod-entry's own lines (log.py) have the same schema.

One record is one line: {"time", "level", "logger", "message", "process", "pid"}; an access record adds
method, path, status, duration_ms, remote, user_agent, request_id; a record with an exception adds exc_type and
exc_text (the whole traceback, in this one record). Secrets are masked as in every line prod-entry writes.

Hand-written rather than python-json-logger: the schema renames and adds fields (RFC 3339 UTC time, the process
name, access fields, masking), which is most of the code either way, and this runs inside every server process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from entrypoint.settings.names import LOG_PROCESS_VAR
from entrypoint.settings.secrets import redactor

PROCESS_VAR = LOG_PROCESS_VAR  # the prod-entry process name (web, worker), exported before exec
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "remote", "user_agent", "request_id")


def stamp(created: float) -> str:
    """RFC 3339, UTC, milliseconds: 2026-12-02T18:50:40.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()  # a dictConfig may pass format/datefmt: the schema is fixed
        self.redact: Callable[[str], str] = redactor(os.environ)
        self.process = os.environ.get(PROCESS_VAR) or None

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": stamp(record.created), "level": record.levelname.lower(),
                                "logger": record.name, "message": self.redact(record.getMessage()),
                                "process": self.process, "pid": record.process}
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update({key: self.redact(value) if isinstance(value, str) else value
                         for key, value in access.items()})
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc_text"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:  # already formatted by another handler
            line["exc_type"] = None
            line["exc_text"] = self.redact(record.exc_text)
        if record.stack_info:
            line["stack_info"] = self.redact(record.stack_info)
        return json.dumps(line, default=str)


def log_access(logger: logging.Logger, method: str, path: str, status: int | None, duration_ms: float,
               remote: str | None, user_agent: str | None, request_id: str | None) -> None:
    """One access record, its fields beside the message (`GET /path 200`)."""
    fields = {"method": method, "path": path, "status": status, "duration_ms": round(duration_ms, 3),
              "remote": remote, "user_agent": user_agent, "request_id": request_id}
    logger.info("%s %s %s", method, path, status, extra={"access": fields})


def say(level: str, logger: str, message: str) -> None:
    """A record written straight to stderr's descriptor, for a server's raw writes from a signal handler
    (where taking logging's locks could deadlock)."""
    record = logging.LogRecord(logger, logging.getLevelName(level.upper()), "", 0, message, None, None)
    try:
        os.write(2, (JsonFormatter().format(record) + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass


# --- the project's own logging configuration ---------------------------------------------------------------
#
# Django applies the project's LOGGING in each worker when the app loads. A handler that writes to the console
# with no format of its own (LOGGING's usual {"console": {"class": "logging.StreamHandler"}}, or Django's
# defaults) only says where lines go: it gets the JSON format, so the container's output stays one schema. A
# handler with a formatter of the project's is the project's own: left as it is, and said once. Handlers that
# write elsewhere (files, mail, Sentry) are not the container's output and are left alone silently.

_reported: set[str] = set()


def _console(handler: logging.Handler) -> bool:
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream = handler.stream
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        return True
    try:
        return stream.fileno() in (1, 2)
    except (AttributeError, OSError, ValueError):
        return False


def _plain(formatter: logging.Formatter | None) -> bool:
    """No format of the project's: none, logging's default, or Django's default runserver formatter."""
    if formatter is None or isinstance(formatter, JsonFormatter):
        return True
    kind = type(formatter)
    if f"{kind.__module__}.{kind.__qualname__}" == "django.utils.log.ServerFormatter":
        return True
    return kind is logging.Formatter and formatter._fmt in (None, "%(message)s")


def configure(level: int | str | None = None) -> list[str]:
    """Make the console output of this process JSON: console handlers without a format of their own get the
    JSON formatter, the root logger gets a JSON handler on stderr unless it already writes to the console, and
    warnings go through logging. Returns the project's own console handlers, left alone (and said once)."""
    loggers = [logging.getLogger(), *(found for found in logging.Logger.manager.loggerDict.values()
                                      if isinstance(found, logging.Logger))]
    theirs = []
    for logger in loggers:
        for handler in logger.handlers:
            if not _console(handler):
                continue
            if _plain(handler.formatter):
                if not isinstance(handler.formatter, JsonFormatter):
                    handler.setFormatter(JsonFormatter())
            else:
                theirs.append(f"{logger.name or 'root'} ({type(handler).__name__} with "
                              f"{type(handler.formatter).__name__})")
    root = logging.getLogger()
    if not any(_console(handler) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
    logging.captureWarnings(True)
    new = [text for text in theirs if text not in _reported]
    if new:
        _reported.update(new)
        from entrypoint.logs import log

        log.from_env(os.environ, os.environ.get(PROCESS_VAR), redactor(os.environ)).warning(
            f"the project's LOGGING gives these console handlers a format of their own, left as they are (their "
            f"lines are not JSON): {', '.join(new)}; remove their formatter for JSON lines")
    return theirs
