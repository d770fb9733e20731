"""A child for the PID-1 tests (after dumb-init's): prints `ready (pid: N)`, then the name of every signal it
receives, one per line, until it is killed."""

import os
import signal


def show(signum: int, frame: object) -> None:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"SIG{signum}"  # a real-time signal between SIGRTMIN and SIGRTMAX
    print(name, flush=True)


for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
    signal.signal(sig, show)
print(f"ready (pid: {os.getpid()})", flush=True)
while True:
    signal.pause()
