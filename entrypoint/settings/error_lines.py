"""The one line of another program's text (a traceback, an exception's message, a server's error) that says
what went wrong, for prod-entry's one-line messages. Apart from errors.py, whose exception types the PID-1
supervisor imports: this module needs `re`, which the supervisor must not pay for."""

from __future__ import annotations

import re

_FRAME_STARTS = ('File "', "Traceback (most recent call last):", "During handling of the above exception",
                 "The above exception was the direct cause")
# How a formatted traceback joins the tracebacks of a chain, the exception behind first.
_CHAIN_SEPARATORS = ("The above exception was the direct cause of the following exception:",
                     "During handling of the above exception, another exception occurred:")
# A line that only points into the one above it: psycopg's `^` under `LINE 1: ...`, Python's `^^^~~~` under
# a frame's source.
_POINTER = re.compile(r"\s*[~^]+$")
# What psycopg (libpq) puts after the error itself, unindented: the query and the pointer into it, and the
# server's detail, hint and context. Django's `\tHINT:` under a system check message is indented: not these.
_ANNOTATION = re.compile(r"(LINE \d+|DETAIL|HINT|QUERY|CONTEXT|LOCATION): ")
# The box an exception group is drawn in: the margin before each line, and the borders between its members
# (`+-+---- 1 ----` opens a group's members, `+---- 2 ----` the next one, `+-------` closes them,
# `+---- ... ----` starts the `and 3 more exceptions` that were left out).
_MARGIN = re.compile(r"\s*\| ?")
_BORDER = re.compile(r"\s*\+[-+]*-{4}")
_MEMBERS = re.compile(r"\s*\+-\+-+ 1 -+$")
# Messages that only say what was being done when the exception behind them happened: logging.config's
# `Unable to configure handler 'file'`, Django's `Error loading MySQLdb module` and `... isn't an available
# database backend or couldn't be imported. Check the above exception.`
_WRAPPER = re.compile(r"^(unable to (configure|add|set)|error (loading|importing)|could not (load|import))\b"
                      r"|\bthe above exception\b", re.I)
# Exception groups with more distinct members than this are cut to them, `(and 2 more)`.
_LISTED = 3


def last_line(text: str) -> str:
    """The one line of another program's multi-line text (a traceback, an exception's message, a server's
    error) that says what went wrong, for a one-line message; "" for a blank text.

    A Python traceback ends in the `ExcType: message` line that names the error (its first line is only
    `Traceback (most recent call last):`): that line, the first unindented one after the last frame. A chain
    of tracebacks (`The above exception was the direct cause...`) is read as `describe` reads one: the last
    exception's line, or when that one only wraps the one before it, the one before followed by it in
    parentheses. An exception group (drawn in a box of `|` margins and `+----` borders): the lines of its
    leaf exceptions, `; `-separated. Any other text: its last unindented line that is not a frame, a pointer
    (`^`) or a bare `(see https://...)` pointer, with the indented line under it (psycopg's `\\tIs the server
    running...`, pydantic's field error) appended, so the error is not traded for its hint nor the field for
    its error; but a text that ends in psycopg's annotations (`LINE 1: SELECT ...`, its `^`, `DETAIL:`,
    `HINT:`) gives its first line, the server's error. An all-indented text: its last line."""
    return _unwrapped([_segment_line(lines) for lines in _chain(text)])


def describe(exc: BaseException) -> str:
    """`ExcType: the line of its message that names the error`, for one-line messages about an exception.

    An exception that only wraps the one behind it (`__cause__`, or `__context__` unless raised `from None`)
    says too little on its own: logging.config's `ValueError: Unable to configure handler 'file'` hides the
    PermissionError that names the file. Such a wrapper is one with no message, or whose message only says
    what was being done (`_WRAPPER`) without already quoting the exception behind it; it is described as the
    exception behind it, followed by its own line in parentheses, so neither the cause nor where it struck
    is lost. Any other exception stands for itself, even when raised `from` another: its author chose the
    words (`ValueError: settings.CACHE has no 'key'` is clearer than the KeyError behind it). An exception
    group (a TaskGroup's, anyio's) is described by its leaf exceptions, never by its own generic message."""
    return _describe(exc, set())


def _describe(exc: BaseException, seen: set[int]) -> str:
    seen.add(id(exc))  # a chain made by hand can loop back on itself
    if _members(exc):
        return _listed([_describe(leaf, seen) for leaf in _leaves(exc)])
    text = last_line(str(exc))
    own = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    behind = exc.__cause__ if exc.__cause__ is not None else None if exc.__suppress_context__ else exc.__context__
    if behind is None or id(behind) in seen or not _wraps(str(exc).strip(), str(behind).strip()):
        return own
    return f"{_describe(behind, seen)} ({own})"


def _members(exc: BaseException) -> tuple[BaseException, ...]:
    """An exception group's members, Python 3.11's or (on 3.10, under anyio) the exceptiongroup backport's,
    which share the class name; () for any other exception."""
    if any(cls.__name__ == "BaseExceptionGroup" for cls in type(exc).__mro__):
        return tuple(exc.exceptions)  # type: ignore[attr-defined]
    return ()


def _leaves(group: BaseException) -> list[BaseException]:
    return [leaf for member in _members(group) for leaf in (_leaves(member) if _members(member) else [member])]


def _wraps(message: str, inner: str) -> bool:
    """Whether an exception whose message is `message` only wraps the one behind it, whose message is
    `inner`. One that quotes the inner message already (`Error loading app: No module named 'x'`) does not."""
    if inner and inner in message:
        return False
    return not message or _WRAPPER.search(message) is not None


def _unwrapped(lines: list[str]) -> str:
    """The last of a chain's exception lines (the one behind it first), or, when it only wraps the one before
    it, that one's (itself unwrapped) followed by it in parentheses."""
    line = lines[-1]
    if len(lines) > 1 and lines[-2] and _wraps(_message(line), _message(lines[-2])):
        return f"{_unwrapped(lines[:-1])} ({line})"
    return line


def _message(line: str) -> str:
    """The message in an `ExcType: message` line; "" for a bare `ExcType`; a line of another shape whole."""
    kind, _, message = line.partition(": ")
    return message if kind.replace(".", "").replace("_", "").isalnum() else line


def _chain(text: str) -> list[list[str]]:
    """The tracebacks of a chain, the exception behind first: `text`'s lines cut at each unindented separator
    (one inside a group's box has its margin); a text that is no chain is one part."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.rstrip()
        if line in _CHAIN_SEPARATORS:
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def _segment_line(lines: list[str]) -> str:
    """`last_line` for one traceback of a chain (an exception group's, a plain one), or a text that is none."""
    leaves = _leaf_boxes(lines) if any(_MEMBERS.match(line) for line in lines) else []
    if leaves:
        return _listed([last_line("\n".join(leaf)) for leaf in leaves])
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    if frames and any(line.lstrip().startswith(_FRAME_STARTS[1]) for line in lines):
        for line in lines[frames[-1] + 1:]:
            if line and not line[0].isspace():
                return line
    return _other_line(lines)


def _leaf_boxes(lines: list[str]) -> list[list[str]]:
    """The text of each leaf exception in an exception group's box, its margin removed. The box's parts are
    cut at its borders; a part followed by a `+-+` border is a group (its members follow), the part after a
    `... ` border only counts the members left out, and the first part is the group's own traceback."""
    parts: list[list[str]] = [[]]
    borders: list[str] = [""]
    for line in lines:
        if _BORDER.match(line):
            parts.append([])
            borders.append(line.strip())
        elif margin := _MARGIN.match(line):
            parts[-1].append(line[margin.end():])
    borders.append("")  # after the last part: no border, no members
    return [part for i, part in enumerate(parts) if i and any(part) and not borders[i + 1].startswith("+-+")
            and " ... " not in borders[i]]


def _other_line(lines: list[str]) -> str:
    meaningful = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(_FRAME_STARTS)
                  and not _POINTER.match(line) and not (line.startswith("(") and line.endswith(")") and "://" in line)]
    if not meaningful:
        return ""
    if len(meaningful) > 1 and _ANNOTATION.match(lines[meaningful[-1]]):
        return lines[meaningful[0]].strip()
    top = [i for i in meaningful if not lines[i][0].isspace()]
    if not top:
        return lines[meaningful[-1]].strip()
    at = top[-1]
    under = next((lines[i].strip() for i in meaningful if i > at), None)
    if not under:
        return lines[at]
    return f"{lines[at]} {under}" if lines[at].endswith(":") else f"{lines[at]}: {under}"


def _listed(lines: list[str]) -> str:
    """Distinct lines, `; `-separated, at most `_LISTED` of them."""
    distinct = list(dict.fromkeys(line for line in lines if line))
    more = f" (and {len(distinct) - _LISTED} more)" if len(distinct) > _LISTED else ""
    return "; ".join(distinct[:_LISTED]) + more
