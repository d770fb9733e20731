"""One exception type per kind of failure, each carrying the exit status the CLI turns it into."""


class EntrypointError(Exception):
    """A failure the user can fix; the message names what is at fault and how to fix it."""

    exit_code = 1


class ConfigError(EntrypointError):
    """Bad configuration or usage: a variable, setting or argument is wrong."""

    exit_code = 2


class WarmupError(EntrypointError):
    """The application failed to load or to answer its warmup and health-check requests."""

    exit_code = 3


class ExecError(EntrypointError):
    """The program could not be exec'd: 127 when it is not found, 126 when it cannot be executed."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class WaitTimeout(EntrypointError):
    """A service named in PROD_ENTRY_WAIT_FOR did not accept connections in time."""

    exit_code = 4


class Stopped(EntrypointError):
    """A TERM or INT arrived while prod-entry itself was waiting or warming up: exit 128+N, as a shell would."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StepFailed(EntrypointError):
    """A release step (PROD_ENTRY_PROCESS_<NAME>_BEFORE) failed: exit 5 (release/steps.py STEP_FAILED), the
    step's own status and error line in the message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


_FRAME_STARTS = ('File "', "Traceback (most recent call last):", "During handling of the above exception",
                 "The above exception was the direct cause")


def last_line(text: str) -> str:
    """The one line of another program's multi-line text (a traceback, an exception's message, a server's
    error) that says what went wrong, for a one-line message; "" for a blank text.

    A Python traceback ends in the `ExcType: message` line that names the error (its first line is only
    `Traceback (most recent call last):`): that line, the first unindented one after the last frame. Any
    other text: its last unindented line that is not a frame or a bare `(see https://...)` pointer, with the
    indented line under it (psycopg's `\\tIs the server running...`, pydantic's field error) appended, so the
    error is not traded for its hint nor the field for its error. An all-indented text: its last line."""
    lines = [line.rstrip() for line in text.splitlines()]
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    if frames and any(line.lstrip().startswith(_FRAME_STARTS[1]) for line in lines):
        for line in lines[frames[-1] + 1:]:
            if line and not line[0].isspace():
                return line
    meaningful = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(_FRAME_STARTS)
                  and not (line.startswith("(") and line.endswith(")") and "://" in line)]
    if not meaningful:
        return ""
    top = [i for i in meaningful if not lines[i][0].isspace()]
    if not top:
        return lines[meaningful[-1]].strip()
    at = top[-1]
    under = next((lines[i].strip() for i in meaningful if i > at), None)
    return f"{lines[at]}: {under}" if under else lines[at]


def describe(exc: BaseException) -> str:
    """`ExcType: the line of its message that names the error`, for one-line messages about an exception."""
    text = last_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
