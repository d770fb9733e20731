"""PROD_ENTRY_USER: gosu / su-exec inside prod-entry. The process that will exec (never a PID-1 supervisor)
drops to the user before warmup, so the app is loaded and served with the same rights."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping, MutableMapping
from typing import NamedTuple

from entrypoint.settings.errors import ConfigError


class User(NamedTuple):
    uid: int
    gid: int
    name: str | None  # None for a bare uid with no passwd entry
    home: str


def parse_user(spec: str) -> User:
    """`name`, `uid`, `name:group` or `uid:gid` -> User; unknown names are a ConfigError."""
    user_part, _, group_part = spec.strip().partition(":")
    if not user_part:
        raise ConfigError(f"PROD_ENTRY_USER={spec!r}: give a user name or uid, optionally :group or :gid")
    try:
        entry = pwd.getpwuid(int(user_part)) if user_part.isdigit() else pwd.getpwnam(user_part)
        uid, gid, name, home = entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir
    except KeyError:
        if not user_part.isdigit():
            raise ConfigError(f"PROD_ENTRY_USER={spec!r}: no user {user_part!r} on this system: create it "
                              "(useradd) or give a numeric uid") from None
        uid, gid, name, home = int(user_part), int(user_part), None, "/"
    if group_part:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            try:
                gid = grp.getgrnam(group_part).gr_gid
            except KeyError:
                raise ConfigError(f"PROD_ENTRY_USER={spec!r}: no group {group_part!r} on this system: create it "
                                  "(groupadd) or give a numeric gid") from None
    return User(uid, gid, name, home)


def drop(env: Mapping[str, str], environ: MutableMapping[str, str] = os.environ) -> User | None:
    """Become PROD_ENTRY_USER (supplementary groups, gid, uid, HOME), if it is set, then check that the user
    can still read what comes next: Python's standard library and prod-entry's modules. Called before anything
    of the user's is imported (the settings module, PRODUCTION_PROCESSES, the app, the release steps), so that
    none of it runs as root and nothing it creates is owned by root. Raises ConfigError."""
    spec = env.get("PROD_ENTRY_USER", "")
    if not spec.strip():
        return None
    user = parse_user(spec)
    if os.geteuid() != 0:
        if (os.getuid(), os.getgid()) == (user.uid, user.gid):
            return user
        raise ConfigError(f"PROD_ENTRY_USER={spec!r}: only root can switch users and this runs as uid "
                          f"{os.getuid()}: run the container as root or unset PROD_ENTRY_USER")
    read = os.R_OK | os.X_OK
    needed = [("Python's standard library", os.path.dirname(os.path.abspath(os.__file__)), read),
              ("prod-entry's modules", os.path.dirname(os.path.dirname(os.path.abspath(__file__))), read)]
    # Found while still root: as the user, a path through an unreadable directory cannot even be resolved.
    real = {path: os.path.realpath(path) for _, path, _ in needed}
    # Order matters: groups and gid while still root, uid last, or the gid change would be refused.
    if user.name is not None:
        os.initgroups(user.name, user.gid)
    else:
        os.setgroups([user.gid])
    os.setgid(user.gid)
    os.setuid(user.uid)
    environ["HOME"] = user.home
    if user.name is not None:
        environ["USER"] = environ["LOGNAME"] = user.name
    for what, path, mode in needed:
        _refuse_if_blocked(spec, user, what, path, real[path], mode)
    return user


def check_program(env: Mapping[str, str], program: str) -> None:
    """After the drop, once the argv is known: PROD_ENTRY_USER can run `program` (found on PATH as the user
    finds it) and its #! interpreter. A program the user cannot find is blamed on the first PATH directory it
    cannot search, if any; else exec reports it as not found (127). Raises ConfigError."""
    spec = env.get("PROD_ENTRY_USER", "")
    if not spec.strip():
        return
    import shutil  # here: only a start that drops privileges needs it (shutil costs ~3 ms: bz2, lzma, fnmatch)

    user = parse_user(spec)
    found = shutil.which(program)
    if found is None:
        where = [os.path.dirname(program)] if os.sep in program else \
            [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
        for directory in where:
            if _blocked(directory, directory, os.X_OK) is not None:
                _refuse_if_blocked(spec, user, f"the program {program!r} on PATH in", directory, directory, os.X_OK)
        return
    found = os.path.abspath(found)
    interpreter = _shebang(found)
    _refuse_if_blocked(spec, user, f"the program {program!r}", found, os.path.realpath(found),
                       os.R_OK | os.X_OK if interpreter else os.X_OK)
    if interpreter:
        _refuse_if_blocked(spec, user, f"the interpreter of {program!r}", interpreter,
                           os.path.realpath(interpreter), os.X_OK)


def _refuse_if_blocked(spec: str, user: User, what: str, path: str, real: str, mode: int) -> None:
    blocked = _blocked(path, real, mode)
    if blocked is not None:
        who = user.name or f"uid {user.uid}"
        raise ConfigError(f"PROD_ENTRY_USER={spec!r}: {who} cannot read {blocked}, so cannot use {what} "
                          f"{path}: install it where {who} can read it, make {blocked} readable "
                          f"(chmod o+rx), or unset PROD_ENTRY_USER")


def _shebang(path: str) -> str | None:
    """The path of a script's #! interpreter (`#!/usr/bin/env python3` looked up on PATH), else None."""
    try:
        with open(path, "rb") as file:
            first = file.readline(256)
    except OSError:
        return None
    words = first[2:].decode("utf-8", "replace").split() if first.startswith(b"#!") else []
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        import shutil

        name = next((w for w in words[1:] if not w.startswith("-")), None)
        found = shutil.which(name) if name else None
        return os.path.abspath(found) if found else None
    return words[0]


def _blocked(path: str, real: str, mode: int) -> str | None:
    """None when the current user can use `path` with `mode`; else what stops it: the first directory on the
    way it cannot search, on `path` itself, then on `real` (its target, resolved as root: a venv's
    bin/python is a symlink to the Python under /root), else the file."""
    if os.access(path, mode):
        return None
    for candidate in dict.fromkeys((path, real)):
        parts = candidate.split(os.sep)
        for i in range(2, len(parts)):
            directory = os.sep.join(parts[:i])
            if not os.access(directory, os.X_OK):
                return directory
    return real
