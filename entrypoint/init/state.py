"""Where prod-entry keeps run-time markers shared between its processes: the supervisor's `draining` file
(present during the shutdown delay: probes answer not-ready), the `serving` file the health port reads
(init/healthport.py), and worker heartbeat files. Imports only os (and names, which imports nothing): the
healthcheck and the PID-1 path read it.

The supervisor's markers are named for their instance (`draining.web.4026532201`: the process name and the PID
namespace), so that two prod-entry processes sharing a state directory never touch each other's: a web and a
worker container on one host's /tmp, two replicas, two supervisors under one init. A container's `docker exec`
probe and the app inside it share PID 1's namespace, so they find the same names."""

from __future__ import annotations

import os

from entrypoint.settings.names import LOG_PROCESS_VAR

# Not `from typing import TYPE_CHECKING`: importing typing costs a probe more than all the rest. Type
# checkers treat a TYPE_CHECKING constant as true wherever it is defined.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

DEFAULT_STATE_DIR = "/tmp/prod-entry"
# Set by the supervisor when the health port is on: where the process that execs the program says it got that
# far, and how to tell that the program answers. Taken by that process, handed on to the server's own when the
# warmup runs there (serving_passed).
SERVING_VAR = "PROD_ENTRY_SERVING_FILE"
PENDING = ".pending"  # the serving file while the server's own process still runs the warmup


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    """PROD_ENTRY_STATE_DIR, else /tmp/prod-entry."""
    return env.get("PROD_ENTRY_STATE_DIR") or DEFAULT_STATE_DIR


def process_name(env: Mapping[str, str], name: str | None = None) -> str:
    """The name the supervisor's markers are kept under: `name`, else the one prod-entry exported (the supervisor
    sets it from its command line; the process it execs, its own), else PROD_ENTRY_DEFAULT_PROCESS, else web.
    From the real environment only, as the supervisor sees it: the .env file is not read yet when it starts."""
    return (name or env.get(LOG_PROCESS_VAR) or env.get("PROD_ENTRY_DEFAULT_PROCESS", "").strip() or "web").lower()


def instance(name: str) -> str:
    """`name.4026532201`: the process name and the inode of this PID namespace, which every process of a
    container shares and no other container has; the name alone where /proc does not say. A program run by
    path (`prod-entry /usr/bin/worker`) goes by its file name, and nothing but letters, digits, `-` and `_`."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in os.path.basename(name))
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # pid:[4026532201]
    except OSError:
        return name
    inode = namespace.partition("[")[2].rstrip("]")
    return f"{name}.{inode}" if inode.isdigit() else name


def draining_file(env: Mapping[str, str] = os.environ, name: str | None = None) -> str:
    return os.path.join(state_dir(env), f"draining.{instance(process_name(env, name))}")


def serving_file(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(state_dir(env), f"serving.{instance(process_name(env))}")


def heartbeat_file(env: Mapping[str, str] = os.environ) -> str:
    """The default heartbeat file: PROD_ENTRY_HEARTBEAT_FILE, else heartbeat in the state directory."""
    return env.get("PROD_ENTRY_HEARTBEAT_FILE") or os.path.join(state_dir(env), "heartbeat")


def write_serving(path: str, facts: Mapping[str, str], pending: bool) -> None:
    """The serving file: `key=value` lines, written whole under a temporary name and renamed, so that a reader
    sees all of it or nothing. `pending`: under PENDING, for the server's process to put in place once its warmup
    passed. Raises OSError."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        file.write("".join(f"{key}={value}\n" for key, value in facts.items()))
    os.replace(temporary, path + (PENDING if pending else ""))


def serving_passed(env: MutableMapping[str, str] = os.environ) -> None:
    """In the server's process, once the warmup prod-entry handed to it passed: its serving file goes in place
    (the health port's /ready can pass from now on). Taken once: the workers it forks have nothing to do."""
    path = env.pop(SERVING_VAR, None)
    if path:
        try:
            os.replace(path + PENDING, path)
        except OSError:
            pass  # written by the process before exec, in a directory it could write: only a removal races this


def read_serving(path: str) -> dict[str, str] | None:
    """The serving file's facts, None while there is none."""
    try:
        with open(path) as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    return {key: value for key, _, value in (line.partition("=") for line in lines)}


def remove(*paths: str) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
