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

# Values this short would mask innocent text everywhere; they are still masked in `show`.
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
    # Longest first, so a secret that contains another is masked whole.
    return sorted(values, key=len, reverse=True)


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


def mask_value(name: str, value: str) -> str:
    """How `show` prints one variable."""
    return MASK if is_secret_name(name) and value else mask_urls(value)
