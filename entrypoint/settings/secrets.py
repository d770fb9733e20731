"""Masking of secret values: nothing prod-entry prints may contain one."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

MASK = "****"

# Substrings of variable names whose values are treated as secrets.
SECRET_NAME_PARTS = ("PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "PRIVATE",
                     "SIGNATURE", "SALT")

# The password in scheme://user:password@host, as found in DSNs and broker URLs.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^@/?#\s]+)(?=@)")

# Values this short would mask innocent text everywhere; `show` still masks them as whole words.
_MIN_SCAN_LENGTH = 4


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


def mask_urls(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Every value that must never be printed: secret-named variables and passwords inside URLs."""
    # A value read from an X_FILE secret is a secret whatever its name; the path in X_FILE is not.
    values = {value for name, value in env.items()
              if value and not name.endswith("_FILE") and (is_secret_name(name) or f"{name}_FILE" in env)}
    for value in env.values():
        values.update(m.group("password") for m in _URL_PASSWORD.finditer(value))
    for name, value in env.items():
        if name.startswith("PROD_ENTRY_") and name.endswith("_HEADERS") and value:
            values.add(value)
            values.update(_header_values(value))
    # Longest first, so a secret that contains another is masked whole.
    return sorted(values, key=len, reverse=True)


def _header_values(text: str) -> list[str]:
    """The values in a PROD_ENTRY_*_HEADERS setting (health.parse_headers' two syntaxes, read tolerantly so a
    malformed setting still masks what it can), and the credentials after an auth scheme word (Bearer)."""
    import json

    try:
        loaded = json.loads(text) if text.strip().startswith("{") else None
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        found = [str(value).strip() for value in loaded.values()]
    else:
        found = [part.partition(":")[2].strip() for part in text.replace("\n", ";").split(";")]
    found += [value.split(None, 1)[1] for value in found if len(value.split(None, 1)) == 2]
    # Short values (`X-Probe: 1`) would mask innocent words in `show` (`--workers=1`).
    return [value for value in found if len(value) >= _MIN_SCAN_LENGTH]


def redactor(env: Mapping[str, str]) -> Callable[[str], str]:
    """A function that masks, in any text, every secret value found in `env` and every URL password."""
    values = [v for v in secret_values(env) if len(v) >= _MIN_SCAN_LENGTH]

    def redact(text: str) -> str:
        text = mask_urls(text)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    return redact


def word_redactor(env: Mapping[str, str]) -> Callable[[str], str]:
    """For `show`, which prints argv word by word: `redactor`, and also a word that is, or ends in `=` and, a
    secret too short for `redactor` to scan for (`--password=abc`)."""
    redact = redactor(env)
    short = [v for v in secret_values(env) if len(v) < _MIN_SCAN_LENGTH]

    def redact_word(word: str) -> str:
        for value in short:
            if word == value:
                return MASK
            if word.endswith("=" + value):
                return word[: -len(value)] + MASK
        return redact(word)

    return redact_word
