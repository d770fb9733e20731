"""Backends: each turns a process definition into the argv to exec, and says what it serves.

A backend is a callable `build(process, env, extra) -> Launch` (or a list of argv words, for a custom backend
that needs nothing more). One module (or package) here per built-in server or worker holds everything prod-entry
knows of it: its argv and defaults, the hooks that run inside it, its log wiring, its heartbeat. The table of
backends and the Launch they return live in entrypoint.settings.registry; they are re-exported here for custom
backends (`entrypoint.backends.Launch`, `Word`, `Setting`) and the helpers below.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.registry import (  # noqa: F401 (re-exported: the names custom backends use)
    BUILTIN, HEARTBEAT, HTTP, NAMED, TASK, WEB, WORKER, Build, Launch, Setting, Word, adapter, builtin_module,
    load, normalize, plan, probe_kind, process_var,
)


__all__ = ["BUILTIN", "HEARTBEAT", "HTTP", "NAMED", "TASK", "WEB", "WORKER", "Build", "Launch", "Setting", "Word",
           "adapter", "builtin_module", "load", "normalize", "plan", "probe_kind", "process_var", "program",
           "user_words", "extra_words", "port", "split_bind", "Given", "Default", "given_in_words", "given_in_env",
           "defaults"]


# Helpers the built-in backends share.

def program(name: str) -> str:
    """The script installed beside this Python (the venv's bin/), else the bare name for a PATH lookup."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else name


def user_words(process: Process) -> list[Word]:
    origin = process.origins.get("args", "")
    return [Word(text, origin) for text in argv.format_args(process.args)]


def extra_words(extra: Sequence[str]) -> list[Word]:
    return [Word(text, "command line") for text in extra]


def port(env: Mapping[str, str]) -> int:
    value = env.get("PORT", "8000").strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT={value!r} is not a TCP port: set it to a number from 1 to 65535")
    return int(value)


def split_bind(value: str | None) -> tuple[str, int] | None:
    """`host:port` -> (host, port); None for unix sockets, fds and anything unparsable."""
    if not value or value.startswith(("unix:", "fd://")):
        return None
    host, sep, number = value.rpartition(":")
    if not sep or not number.isdigit():
        return None
    return host.strip("[]") or "0.0.0.0", int(number)


# The rule for every server's defaults: prod-entry's default for a setting applies only where nothing the user
# wrote sets it, in any spelling (--bind=x, --bind x, -b x, -bx), in any place the server itself reads (ARGS and
# the command line, its config file, its environment variables). A backend gathers what the user set with
# `given_in_words` / `given_in_env` (and its own reader for a config file), merged lowest precedence first as
# the server merges them, e.g. {**from_file, **from_env, **from_words}; then `defaults` keeps the defaults that
# nothing replaced. The merged settings also give Launch.bind (what warmup and healthcheck reach), and those
# not from words give Launch.settings, which `prod-entry show` lists.

Given = dict[str, Setting]  # setting name -> the value in effect


class Default(NamedTuple):
    """A default of prod-entry's: the words it adds for setting `name`, unless the user set `name` or any of
    `moot_with` (uvicorn's --uds makes --host and --port moot)."""

    name: str
    words: tuple[str, ...]
    origin: str
    moot_with: tuple[str, ...] = ()


def given_in_words(words: Sequence[Word], spellings: Mapping[str, Sequence[str]]) -> Given:
    """The settings `words` set, for settings named in `spellings` (name -> its options: {"bind": ("--bind",
    "-b")}): the last value, and the origin of the words that gave it (a later origin wins, as later words do)."""
    given: Given = {}
    for origin in dict.fromkeys(word.origin for word in words):
        texts = [word.text for word in words if word.origin == origin]
        for name, options in spellings.items():
            if argv.mentions(texts, *options):
                given[name] = Setting(name, (argv.option_value(texts, *options) or "",), origin)
    return given


def given_in_env(env: Mapping[str, str], variables: Mapping[str, str]) -> Given:
    """The settings the server's own environment variables set (name -> variable: {"port": "UVICORN_PORT"}).
    Empty counts as unset, as click's auto_envvar_prefix does."""
    return {name: Setting(name, (env[var],), var) for name, var in variables.items() if env.get(var)}


def defaults(given: Mapping[str, Setting], candidates: Sequence[Default]) -> list[Word]:
    """The words of the `candidates` whose setting the user left unset (the rule above)."""
    return [Word(text, default.origin) for default in candidates
            if not any(name in given for name in (default.name, *default.moot_with)) for text in default.words]

