"""A child for the signal-storm test: takes every signal with sigwaitinfo (so each queued real-time signal
is counted once, unlike a Python handler that may run once for several), prints `ready (pid: N)`, and on
SIGTERM prints the counts as JSON and dies of that TERM."""

import json
import os
import signal

catchable = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
signal.pthread_sigmask(signal.SIG_BLOCK, catchable)
print(f"ready (pid: {os.getpid()})", flush=True)
counts: dict[int, int] = {}
while True:
    number = signal.sigwaitinfo(catchable).si_signo
    if number == signal.SIGTERM:
        break
    counts[number] = counts.get(number, 0) + 1
print("counts " + json.dumps(counts), flush=True)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGTERM)  # still blocked: pending until the mask is lifted
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
