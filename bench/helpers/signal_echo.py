"""Figure 4's child: on every SIGUSR1 it writes the monotonic clock (ns, shared by every process on the
machine) to stdout, so the bench can subtract the moment it called kill()."""

import os
import signal
import time


def echo(signum: int, frame: object) -> None:
    os.write(1, b"%d\n" % time.monotonic_ns())


signal.signal(signal.SIGUSR1, echo)
os.write(1, b"ready\n")
while True:
    signal.pause()
