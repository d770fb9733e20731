"""Process definitions and settings from the environment (and a .env file). Pure: a Mapping in, values out.

Naming rule, so that nothing is ambiguous: in PROD_ENTRY_PROCESS_<REST>, if REST ends with `_` plus one of
the attribute suffixes (ARGS, APP, and the per-process settings below), that suffix is the attribute and
what stands before it is the process name; otherwise REST is the name and the value is the backend. So a
name may hold underscores (`PROD_ENTRY_PROCESS_HIGH_PRIO=celery-worker` defines `high_prio`) but may not end
in an attribute suffix. Names are letters and digits in groups joined by single underscores, matched
case-insensitively and shown in lower case.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from typing import NamedTuple

from entrypoint.settings import argv
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.names import COMMANDS, PREFIX

# Settings a process may override for itself: PROD_ENTRY_PROCESS_<NAME>_<SETTING> beats PROD_ENTRY_<SETTING>.
PER_PROCESS_SETTINGS: tuple[str, ...] = (
    # warmup and probes (warmup/gate.py, health/probes.py, release/waitfor.py)
    "WARMUP", "WARMUP_WORKERS", "WARMUP_IN_SERVER", "WARMUP_URLS", "WARMUP_TIMEOUT", "WARMUP_HOST", "HEALTHCHECK_URL",
    "HEALTHCHECK_STATUS", "HEALTHCHECK_TIMEOUT", "WAIT_FOR", "WAIT_TIMEOUT", "PORT_CHECK", "HEARTBEAT_FILE",
    "HEARTBEAT_MAX_AGE", "HEALTHCHECK_COMMAND",
    # the warmup's deep checks (health/deep.py)
    "CHECK_DATABASES", "CHECK_CACHES", "CHECK_MIGRATIONS",
    # a Celery process's broker check (backends/celery.py)
    "BROKER_TIMEOUT",
    # release steps (release/steps.py)
    "BEFORE_LOCK_TIMEOUT",
    # how many processes the server or pool runs (settings/sizing.py)
    "CONCURRENCY",
    # request headers, or the secret file holding them (read by read_secret_files)
    "WARMUP_HEADERS", "WARMUP_HEADERS_FILE", "HEALTHCHECK_HEADERS", "HEALTHCHECK_HEADERS_FILE",
)

# Longest first, so `_HEALTHCHECK_URL` is tried before a shorter suffix it ends with.
_ATTRIBUTES = ("ARGS", "APP", "BEFORE")

_NAME = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*\Z")

# First words the CLI takes as its own commands; a process cannot be called that.
RESERVED_NAMES = COMMANDS

DEFAULT_PROCESS = "web"


class Environment(NamedTuple):
    """The merged environment and, for `show`, where each variable came from."""

    values: dict[str, str]
    dotenv_keys: frozenset[str]
    env_file: str | None
    file_keys: frozenset[str] = frozenset()  # variables read from the file named by their X_FILE

    def origin(self, var: str) -> str:
        if var in self.file_keys:
            return f"file {var}_FILE"
        return f".env {var}" if var in self.dotenv_keys else f"env {var}"

    def export(self) -> None:
        """Put the variables the real environment lacks (from .env or X_FILE) into os.environ: the app loaded
        for warmup and the exec'd program must see them. The real environment still wins."""
        for key in self.dotenv_keys | self.file_keys:
            os.environ.setdefault(key, self.values[key])


class Process(NamedTuple):
    name: str
    backend: str
    args: dict[str, object] | list[str]
    app: str | None
    # "backend" / "args" / "app" -> where the value came from ("env PROD_ENTRY_PROCESS_WEB", "built-in", ...)
    origins: dict[str, str]
    settings: dict[str, str]
    before: str | None = None  # PROD_ENTRY_PROCESS_<NAME>_BEFORE: release steps, as written (release/steps.py parses)

    def setting(self, env: Mapping[str, str], key: str, default: str | None = None) -> str | None:
        """PROD_ENTRY_PROCESS_<NAME>_<KEY>, else PROD_ENTRY_<KEY>, else `default`."""
        return self.settings.get(key, env.get(f"PROD_ENTRY_{key}", default))


def load_environment(environ: Mapping[str, str]) -> Environment:
    """The real environment merged over the .env file (PROD_ENTRY_ENV_FILE, else ./.env when it exists)."""
    path = environ.get("PROD_ENTRY_ENV_FILE")
    if path is not None and not path:
        raise ConfigError("PROD_ENTRY_ENV_FILE is empty: unset it, or set it to the path of a .env file")
    loaded: dict[str, str] = {}
    if path is None and os.path.isfile(".env"):
        path = ".env"
    elif path is not None and not os.path.isfile(path):
        raise ConfigError(f"PROD_ENTRY_ENV_FILE={path}: no such file: fix the path or unset the variable")
    if path is not None:
        loaded = read_env_file(path)
    values = {**loaded, **environ}
    file_keys = read_secret_files(values)
    return Environment(values, frozenset(k for k in loaded if k not in environ), path, file_keys)


def read_secret_files(values: dict[str, str]) -> frozenset[str]:
    """The Docker/Kubernetes secrets convention: for X_FILE with X unset, X is read from that file (one
    trailing newline stripped). Updates `values`; returns the names it set.

    Applies where X names a password or secret (PASSWORD, PASSWD, SECRET) or a connection string (`*_URL`,
    `*_DSN`), plus the names listed in PROD_ENTRY_SECRET_FILES (comma-separated; `0` turns the convention
    off), and prod-entry's own request headers (PROD_ENTRY_WARMUP_HEADERS, PROD_ENTRY_HEALTHCHECK_HEADERS and
    their per-process forms: they carry Authorization). Not to every X_FILE: environments are full of `*_FILE` paths that other programs read themselves
    and that may not exist yet (SSL_CERT_FILE, SSL_KEY_FILE, AWS_WEB_IDENTITY_TOKEN_FILE on every EKS pod,
    TF_CLI_CONFIG_FILE); copying or demanding them would break start-up."""
    listed = values.get("PROD_ENTRY_SECRET_FILES", "")
    if listed.strip() == "0":
        return frozenset()
    extra = {name.strip() for name in listed.split(",") if name.strip()}

    def applies(target: str) -> bool:
        return target in extra or target.endswith(("_URL", "_DSN")) or \
            any(word in target.upper() for word in ("PASSWORD", "PASSWD", "SECRET"))

    found = set()
    for var, path in sorted(values.items()):
        target = var[:-5]
        own = var.startswith("PROD_ENTRY_")  # prod-entry's own *_FILE settings are paths, but for the headers
        if not var.endswith("_FILE") or not target or (own and not target.endswith("_HEADERS")) or \
                not (own or applies(target)):
            continue
        if target in values:
            raise ConfigError(f"{target} and {var} are both set: keep one (the value, or the file that holds it)")
        if not path:
            raise ConfigError(f"{var} is empty: set it to the path of the file holding {target}, or unset it")
        try:
            with open(path, encoding="utf-8") as stream:
                content = stream.read()
        except FileNotFoundError:
            raise ConfigError(f"{var}={path}: no such file: mount the secret there or fix the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"{var}={path}: cannot read the file ({reason}): fix its permissions or path") \
                from None
        values[target] = content[:-1] if content.endswith("\n") else content
        if values[target].endswith("\r"):
            values[target] = values[target][:-1]
        found.add(target)
    return frozenset(found)


def read_env_file(path: str) -> dict[str, str]:
    """The variables of a .env file; a line python-dotenv cannot parse is an error naming that line."""
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as stream:
            for binding in parse_stream(stream):
                if binding.error:
                    # Name the line and at most what looks like its key: the rest may be a secret.
                    key = binding.original.string.split("=", 1)[0].strip()[:40]
                    shown = f" (starting {key!r})" if "=" in binding.original.string and key.isidentifier() \
                        else ""
                    raise ConfigError(f"{path} line {binding.original.line}: cannot parse it{shown}: "
                                      "write KEY=value")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the .env file ({exc.strerror}): fix its permissions or set "
                          "PROD_ENTRY_ENV_FILE to another file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the .env file is not UTF-8 text") from None
    return {key: value or "" for key, value in dotenv_values(path).items()}


def _split_variable(var: str) -> tuple[str, str | None]:
    """PROD_ENTRY_PROCESS_HIGH_PRIO_ARGS -> ("high_prio", "ARGS"); without a suffix, the attribute is None."""
    rest = var[len(PREFIX):]
    attribute = None
    for suffix in sorted(_ATTRIBUTES + PER_PROCESS_SETTINGS, key=len, reverse=True):
        if rest.upper().endswith("_" + suffix):
            rest, attribute = rest[: -len(suffix) - 1], suffix
            break
    if not _NAME.match(rest):
        shown = var if var.isprintable() else repr(var)
        raise ConfigError(f"{shown}: {rest!r} is not a process name: use letters and digits, joined by single "
                          "underscores (e.g. PROD_ENTRY_PROCESS_HIGH_PRIO)")
    return rest.lower(), attribute


def builtin_processes(env: Mapping[str, str]) -> dict[str, str]:
    """Processes that exist without a definition: name -> backend."""
    builtins = {"manage": "manage", "command": "command"}
    if env.get("DJANGO_SETTINGS_MODULE"):
        builtins[DEFAULT_PROCESS] = "gunicorn"
    return builtins


def processes(environment: Environment, defined_elsewhere: Collection[str] = ()) -> dict[str, Process]:
    """Every defined and built-in process, by lower-case name. Names in `defined_elsewhere` (Django settings)
    may take _ARGS / _APP / setting variables without a backend variable; they come back with backend ""."""
    env = environment.values
    found: dict[str, dict[str | None, str]] = {}
    seen_as: dict[tuple[str, str | None], str] = {}
    for var in sorted(env):
        if not var.startswith(PREFIX):
            continue
        name, attribute = _split_variable(var)
        if (name, attribute) in seen_as:
            raise ConfigError(f"{var} and {seen_as[name, attribute]} both define process {name!r}: "
                              "names are case-insensitive, keep one")
        seen_as[name, attribute] = var
        found.setdefault(name, {})[attribute] = var
    builtins = {name: "" for name in defined_elsewhere} | builtin_processes(env)
    result: dict[str, Process] = {}
    for name, variables in found.items():
        if name in RESERVED_NAMES:
            raise ConfigError(f"{variables.get(None) or next(iter(variables.values()))}: {name!r} is a "
                              f"prod-entry command, not a process name: pick another name")
        if None not in variables and name not in builtins:
            var = next(iter(variables.values()))
            raise ConfigError(f"{var} is set but {PREFIX}{name.upper()} is not: set it to a backend "
                              f"(e.g. {PREFIX}{name.upper()}=gunicorn) or remove {var}")
        result[name] = _process(name, variables, environment, builtins.get(name))
    for name, backend in builtins.items():
        if backend:
            result.setdefault(name, _process(name, {}, environment, backend))
    return result


def _process(name: str, variables: dict[str | None, str], environment: Environment,
             builtin: str | None) -> Process:
    env = environment.values
    origins: dict[str, str] = {}
    if None in variables:
        backend = env[variables[None]].strip()
        if not backend:
            raise ConfigError(f"{variables[None]} is empty: set it to a backend name (gunicorn, uvicorn, "
                              "celery-worker, ...) or a dotted path to a custom backend")
        origins["backend"] = environment.origin(variables[None])
    else:
        backend, origins["backend"] = builtin or "", "built-in"
    args: dict[str, object] | list[str] = []
    if "ARGS" in variables:
        var = variables["ARGS"]
        try:
            args = argv.parse(env[var])
        except argv.ArgsError as exc:
            raise ConfigError(f"{var} {exc}: write a JSON object like {{\"workers\": 4}}, a JSON array, or "
                              "a command line") from None
        origins["args"] = environment.origin(var)
    app = None
    if "APP" in variables:
        app = env[variables["APP"]].strip() or None
        if app is None:
            raise ConfigError(f"{variables['APP']} is empty: set it (e.g. myproject.wsgi:application) or unset it")
        origins["app"] = environment.origin(variables["APP"])
    settings = {attr: env[var] for attr, var in variables.items() if attr in PER_PROCESS_SETTINGS}
    before = None
    if "BEFORE" in variables and env[variables["BEFORE"]].strip():  # empty: how Compose and Helm unset it
        before = env[variables["BEFORE"]]
        origins["before"] = environment.origin(variables["BEFORE"])
    return Process(name, backend, args, app, origins, settings, before)


def selected_name(env: Mapping[str, str], name: str | None) -> str:
    """The process to run: the name given, else PROD_ENTRY_DEFAULT_PROCESS, else web; in lower case."""
    if name is None:
        name = env.get("PROD_ENTRY_DEFAULT_PROCESS", DEFAULT_PROCESS).strip()
        if not _NAME.match(name):
            raise ConfigError(f"PROD_ENTRY_DEFAULT_PROCESS={name!r} is not a process name: set it to a defined "
                              "process such as web")
    return name.lower()
