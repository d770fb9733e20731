"""The last step: restore the signal state Python changed, then replace this process with the program."""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from entrypoint.settings.errors import ConfigError, ExecError


def restore_signals() -> None:
    """Undo what exec would otherwise pass on: a blocked mask, and the SIG_IGN CPython sets for SIGPIPE and
    SIGXFSZ at start-up (a server inheriting them would never die of a closed pipe or a full file)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)


def locate(program: str) -> str | None:
    """Where execvp would find `program` (a path, or the first PATH entry holding a file of that name), or None
    when it would fail with "not found". Executable or not: a file that exists but cannot run is exec's 126."""
    if os.sep in program:
        return program if os.path.exists(program) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate):
            return candidate
    return None


def check_temp_dir(needed_by: str) -> None:
    """ConfigError (exit 2) when Python finds no writable temporary directory, as with a read-only root filesystem
    and no tmpfs: the program would die after exec (gunicorn: `FileNotFoundError: No usable temporary directory`,
    exit 255). `needed_by` says what it is for. Checked with the program's own user, after the drop."""
    import tempfile

    try:
        tempfile.gettempdir()  # tries TMPDIR, TEMP, TMP, /tmp, /var/tmp, /usr/tmp, the working directory
    except FileNotFoundError:
        raise ConfigError(f"no writable temporary directory (TMPDIR, /tmp, /var/tmp, /usr/tmp and {os.getcwd()} "
                          f"are all read-only, missing or not this user's to write), and {needed_by}: mount one "
                          "(docker run --tmpfs /tmp, a Kubernetes emptyDir at /tmp) or set TMPDIR to a writable "
                          "directory") from None


def exec_argv(argv: Sequence[str], not_found: str | None = None) -> NoReturn:
    """execvp `argv`. Raises ExecError 127 if the program is not found (`not_found` replaces the message),
    126 if it cannot be executed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    restore_signals()
    try:
        os.execvp(argv[0], list(argv))
    except FileNotFoundError:
        raise ExecError(not_found or f"{argv[0]}: command not found: install it or fix PATH", 127) from None
    except PermissionError:
        raise ExecError(f"{argv[0]}: permission denied: make it executable (chmod +x) or fix PATH", 126) \
            from None
    except OSError as exc:
        reason = "not an executable format (a script needs a #! line)" if exc.errno == errno.ENOEXEC \
            else exc.strerror
        raise ExecError(f"{argv[0]}: cannot execute: {reason}", 126) from None
