import gc
import os
import threading
import time

from django.http import HttpResponse, JsonResponse

from entrypoint.init import state

# Requests this worker process has served; the warmup tests read it to see warmup ran in each worker.
SERVED = {"count": 0}


def _count(view):
    def wrapper(request, *args, **kwargs):
        SERVED["count"] += 1
        return view(request, *args, **kwargs)

    return wrapper


@_count
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


@_count
def index(request):
    return HttpResponse("prod-entry example app\n", content_type="text/plain")


def readyz(request):
    """Readiness for a load balancer that checks over HTTP (HAProxy, an ALB): 503 while prod-entry's supervisor
    holds TERM for PROD_ENTRY_SHUTDOWN_DELAY, so the balancer stops sending before the server stops listening.
    /healthz stays 200 meanwhile (liveness: the server is still serving). Not counted as served."""
    if os.path.exists(state.draining_file()):
        return HttpResponse("draining\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@_count
def whoami(request):
    """The serving process and how many requests it served before this one (warmup included)."""
    return JsonResponse({"pid": os.getpid(), "served_before": SERVED["count"] - 1})


def frozen(request):
    """How many objects this process's garbage collector leaves alone (frozen by the process it forked from, if
    any). Not in /whoami: gc.get_freeze_count() walks the whole frozen list (~5 ms for the example)."""
    return JsonResponse({"pid": os.getpid(), "gc_frozen": gc.get_freeze_count()})


# /slow requests being served right now by this worker process (the drain tests wait for them to pile up).
IN_FLIGHT = {"count": 0}
_IN_FLIGHT_LOCK = threading.Lock()


@_count
def slow(request, seconds):
    marker = os.environ.get("EXAMPLE_SLOW_MARKER")
    if marker:  # tests wait for this file to know the view is running
        open(marker, "w").close()
    with _IN_FLIGHT_LOCK:
        IN_FLIGHT["count"] += 1
    try:
        time.sleep(float(seconds))
    finally:
        with _IN_FLIGHT_LOCK:
            IN_FLIGHT["count"] -= 1
    return HttpResponse(f"slept {seconds}\n", content_type="text/plain")


def inflight(request):
    """How many /slow requests this worker process is serving now (not counted as served); X-Pid says which
    worker answered, for tests that add up several."""
    response = HttpResponse(f"{IN_FLIGHT['count']}\n", content_type="text/plain")
    response["X-Pid"] = str(os.getpid())
    return response


@_count
def boom(request):
    raise RuntimeError("the example app's /boom view always fails")


@_count
def db(request):
    """A query on the default database: the process serving, and the database's process for its connection
    (PostgreSQL's backend pid; 0 on SQLite)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 0")
        backend = cursor.fetchone()[0]
    return JsonResponse({"pid": os.getpid(), "backend": backend})
