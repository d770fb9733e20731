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


def drop(env: Mapping[str, str], environ: MutableMapping[str, str] = os.environ,
         program: str | None = None) -> User | None:
    """Become PROD_ENTRY_USER (supplementary groups, gid, uid, HOME), if it is set, then check that the user
    can still read what comes next: Python's standard library and prod-entry's modules (imported after the
    drop) and `program`, the argv[0] about to be exec'd, with its #! interpreter. Raises ConfigError."""
    spec = env.get("PROD_ENTRY_USER", "")
    if not spec.strip():
        return None
    user = parse_user(spec)
    if os.geteuid() != 0:
        if (os.getuid(), os.getgid()) == (user.uid, user.gid):
            return user
        raise ConfigError(f"PROD_ENTRY_USER={spec!r}: only root can switch users and this runs as uid "
                          f"{os.getuid()}: run the container as root or unset PROD_ENTRY_USER")
    # Found while still root: as the user, a path through an unreadable directory cannot even be resolved.
    needed = _needed(program)
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
        blocked = _blocked(path, real[path], mode)
        if blocked is not None:
            who = user.name or f"uid {user.uid}"
            raise ConfigError(f"PROD_ENTRY_USER={spec!r}: {who} cannot read {blocked}, so cannot use {what} "
                              f"{path}: install it where {who} can read it, make {blocked} readable "
                              f"(chmod o+rx), or unset PROD_ENTRY_USER")
    return user


def _needed(program: str | None) -> list[tuple[str, str, int]]:
    """(what, path, access mode) of everything the process still needs after the drop: the paths as they
    will be opened (modules through sys.path, the program through PATH), symlinks and all. A Python under
    /root (pyenv's default) would otherwise end in `ModuleNotFoundError: No module named 'socket'`."""
    import shutil  # here: only a start that drops privileges needs it (shutil costs ~3 ms: bz2, lzma, fnmatch)

    read = os.R_OK | os.X_OK
    needed = [("Python's standard library", os.path.dirname(os.path.abspath(os.__file__)), read),
              ("prod-entry's modules", os.path.dirname(os.path.abspath(__file__)), read)]
    found = shutil.which(program) if program else None
    if found is None:  # not found even as root: exec says so, with 127
        return needed
    found = os.path.abspath(found)
    interpreter = _shebang(found)
    needed.append((f"the program {program!r}", found, read if interpreter else os.X_OK))
    if interpreter:
        needed.append((f"the interpreter of {program!r}", interpreter, os.X_OK))
    return needed


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
