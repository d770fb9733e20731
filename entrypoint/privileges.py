"""PROD_ENTRY_USER: gosu / su-exec inside prod-entry. The process that will exec (never a PID-1 supervisor)
drops to the user before warmup, so the app is loaded and served with the same rights."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping, MutableMapping
from typing import NamedTuple

from entrypoint.errors import ConfigError


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
    """Become PROD_ENTRY_USER (supplementary groups, gid, uid, HOME), if it is set."""
    spec = env.get("PROD_ENTRY_USER", "")
    if not spec.strip():
        return None
    user = parse_user(spec)
    if os.geteuid() != 0:
        if (os.getuid(), os.getgid()) == (user.uid, user.gid):
            return user
        raise ConfigError(f"PROD_ENTRY_USER={spec!r}: only root can switch users and this runs as uid "
                          f"{os.getuid()}: run the container as root or unset PROD_ENTRY_USER")
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
    return user
