"""Turning a process's ARGS into argv words, and reading options back out of argv.

Pure: values in, words out. The rules (the README's table):
  {"bind": "x"} -> --bind=x      null/true -> --flag      false -> omitted      4 -> --workers=4
  a list -> the option once per item      a one-letter key {"w": 4} -> -w 4 (two words; -w-1 when the
  value starts with a dash)
A JSON array is used verbatim; a plain string is split like a shell would.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Sequence


class ArgsError(ValueError):
    """ARGS cannot be parsed or formatted; the message says why, without naming the variable."""


def parse(text: str) -> dict[str, object] | list[str]:
    """ARGS text -> a dict (JSON object) or a list of words (JSON array, or a shell-like string)."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"'):
        import json  # here and below: shell-like ARGS and no ARGS at all, the common case, need no json (~2 ms)

        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ArgsError(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        if isinstance(value, str):
            return _split(value)
        if isinstance(value, list):
            return [_word(item, f"item {i}") for i, item in enumerate(value)]
        if isinstance(value, dict):
            for key, item in value.items():
                _check_option(key, item)
            return value
    return _split(text)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ArgsError(f"cannot be split like a shell command line ({exc})") from None


def _not_finite(item: object) -> bool:
    """Python's json reads NaN, Infinity, -Infinity and an overflowing 1e400 as floats that would become
    `--workers=inf`, which the server refuses only after the warmup has run."""
    return isinstance(item, float) and not math.isfinite(item)


_FINITE = "not a finite number (NaN, Infinity and numbers beyond 1.8e308 cannot be arguments): write a number"


def _word(item: object, where: str) -> str:
    if _not_finite(item):
        raise ArgsError(f"{where} is {_FINITE}")
    if isinstance(item, bool) or item is None or isinstance(item, (dict, list)):
        import json

        raise ArgsError(f"{where} is {json.dumps(item)}: array items must be strings or numbers")
    if not isinstance(item, (str, int, float)):
        raise ArgsError(f"{where} is not a string or number")
    return str(item)


def _check_option(key: str, value: object) -> None:
    if not key.strip("-") or any(c.isspace() or c == "=" for c in key):
        raise ArgsError(f"key {key!r} is not an option name")
    if isinstance(value, dict):
        raise ArgsError(f"value of {key!r} is an object: nested objects cannot become arguments")
    if _not_finite(value):
        raise ArgsError(f"value of {key!r} is {_FINITE}")
    if isinstance(value, list):
        for item in value:
            if _not_finite(item):
                raise ArgsError(f"value of {key!r} holds a value that is {_FINITE}")
            if isinstance(item, (bool, dict, list)) or item is None:
                import json

                raise ArgsError(f"value of {key!r} holds {json.dumps(item)}: list items must be strings or numbers")


def format_option(key: str, value: object) -> list[str]:
    """One option -> its words (see the module docstring)."""
    name = key.lstrip("-")
    flag = f"-{name}" if len(name) == 1 else f"--{name}"
    if value is False:
        return []
    if value is None or value is True:
        return [flag]
    items = value if isinstance(value, list) else [value]
    words: list[str] = []
    for item in items:
        text = str(item)
        if len(name) > 1:
            words.append(f"{flag}={text}")
        elif text.startswith("-"):
            # `-w -1` would read -1 as an option; the attached form `-w-1` is unambiguous to argparse and click.
            words.append(flag + text)
        else:
            words += [flag, text]
    return words


def format_args(args: dict[str, object] | Sequence[str]) -> list[str]:
    if isinstance(args, dict):
        return [word for key, value in args.items() for word in format_option(key, value)]
    return list(args)


def mentions(words: Iterable[str], *names: str) -> bool:
    """Whether `words` set any of the options `names` (`--bind`, `-b`), in any spelling argparse accepts."""
    return option_value(words, *names) is not None or any(w in names for w in words)


def option_value(words: Iterable[str], *names: str) -> str | None:
    """The last value given to any of the options `names`, or None."""
    found = None
    words = list(words)
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                found = words[i + 1]
            elif name.startswith("--") and word.startswith(name + "="):
                found = word[len(name) + 1:]
            elif len(name) == 2 and word.startswith(name) and len(word) > 2 and not word.startswith("--"):
                found = word[2:]
    return found
