import time

from example.celery import app


@app.task
def add(x, y):
    return x + y


@app.task(acks_late=True)
def slow_add(x, y, seconds):
    """add, after `seconds`; acknowledged only once done, so a worker stopped meanwhile hands it back to the
    broker for another worker to redo (the rollout test replaces a worker while these run)."""
    time.sleep(seconds)
    return x + y
