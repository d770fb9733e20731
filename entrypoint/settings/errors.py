"""One exception type per kind of failure, each carrying the exit status the CLI turns it into. (The one line that
names the error in another program's text is error_lines.py's.)"""


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
