"""A raw argv: ARGS and the command-line words, exec'd as they are (looked up on PATH)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import NAMED, TASK, Launch, extra_words, user_words
from entrypoint.backends._common import no_app
from entrypoint.settings.config import Process

PROBE = NAMED  # nothing prod-entry knows of to ask: only a probe the user names


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "put the whole command in ARGS")
    return Launch(user_words(process) + extra_words(extra), TASK)
