"""Masking of secret values: nothing prod-entry prints may contain one."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

MASK = "****"

# Substrings of variable names whose values are treated as secrets.
SECRET_NAME_PARTS = ("PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "PRIVATE",
                     "SIGNATURE", "SALT")

# The password in scheme://user:password@host, as found in DSNs and broker URLs.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^@/?#\s]+)(?=@)")

# Values this short would mask innocent text everywhere; `show` still masks them as whole words.
_MIN_SCAN_LENGTH = 4

# Keys whose value is a secret in any text: after `=` or `:` (`password = x`, `"token": "x"`, `--api-key=x`,
# `DB_PASSWORD=x`, `?signature=x&page=2`); after spaces when the key names an option (`--password x`) or
# starts a line or a quoted string that the value ends (`password hunter2`, a line configparser cannot parse
# and quotes in its error). A key also matches as the end of a longer name, after a character that is not a
# letter or digit (`DJANGO_SECRET_KEY`, `X-Api-Key`, `refresh_token`), `_` and `-` alike, in any case; so
# `--key-file=/x` and `KeyError: 'x'` name no key. A value is masked whatever its length: unlike a variable's
# value scanned for anywhere, it is found by its key. PROD_ENTRY_SECRET_KEYS adds keys, comma-separated;
# Authorization has a rule of its own (_AUTHORIZATION).
SECRET_KEYS = ("password", "passwd", "passphrase", "secret", "secret_key", "token", "api_key", "apikey", "access_key",
               "private_key", "signing_key", "signature", "credential", "credentials", "auth")
# Keys whose value is a secret only as a URL query parameter's whole name (`?code=x&state=y`, `&key=x`),
# because as words they are everywhere in prose and code: `exit code: 2`, `status_code=500`, `primary_key=True`.
QUERY_KEYS = ("code", "key", "session", "sessionid", "sig")
SECRET_KEYS_VAR = "PROD_ENTRY_SECRET_KEYS"

# A quoted value, backslash escapes included, is masked between its quotes. A bare one ends at whitespace, a
# quote or `&` (the next query parameter), and leaves out the punctuation that ends it in prose and lists
# (`(token=x)`, `Authorization: ****, X-Probe: ****`): at most those last characters of a secret show; a
# secret holding whitespace, a quote or `&` is masked only up to it (quote it).
_QUOTED = r"'(?:[^'\\\n]|\\.)*'" "|" r'"(?:[^"\\\n]|\\.)*"'
_BARE = r"""[^\s'"&]*[^\s'"&,;.)\]}]"""
# An Authorization header (Proxy-Authorization too): its scheme word is kept, the credentials after it
# masked. Only there: after another key, `password=token x` would show its password, `token`.
_AUTHORIZATION = (r"""(?<![a-z0-9])authorization["']?[ \t]*[:=][ \t]*"""
                  r"(?:(?:bearer|basic|token|digest|negotiate)[ \t]+)?")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class KeyedRule(NamedTuple):
    """The masking of values after secret keys: `patterns`, one per syntax (apart, they cost half what one
    alternation of them does), matched on the text lower-cased, whose `value` group is masked; `stems`, one
    of which any text with a key contains, so that the lines with none (nearly every access record) skip
    the patterns."""

    stems: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


def mask_urls(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


@functools.lru_cache(maxsize=8)
def keyed_rule(extra_keys: tuple[str, ...] = ()) -> KeyedRule:
    """SECRET_KEYS' rule (and QUERY_KEYS'), with `extra_keys`; compiled once per set of extra keys."""
    keys = _names((*SECRET_KEYS, *extra_keys))
    key = rf"(?<![a-z0-9])(?:{_alternatives(keys)})"
    patterns = (rf"{key}[\"']?[ \t]*[:=][ \t]*(?P<value>{_QUOTED}|{_BARE})",  # password = x, "token": "x"
                rf"{_AUTHORIZATION}(?P<value>{_QUOTED}|{_BARE})",  # Authorization: Bearer x
                rf"(?<![\w-])--[\w.-]*?{key}[ \t]+(?P<value>{_QUOTED}|{_BARE})",  # --password x, an option's word
                rf"(?<=[?&])(?:{_alternatives(_names(QUERY_KEYS))})=(?P<value>{_BARE})",  # ?code=x&state=y
                # password hunter2, alone on its line or in its quotes
                rf"(?:^[ \t]*|['\"])[\w.-]*?{key}[ \t]+(?P<value>[^\s'\"]+)(?=[ \t]*$|['\"])")
    words = {re.findall("[a-z0-9]+", name)[-1] for name in (*keys, *_names(QUERY_KEYS), "authorization")
             if re.search("[a-z0-9]", name)}
    # A word that holds another (apikey, key) needs no check of its own.
    stems = sorted(word for word in words if not any(other in word for other in words - {word}))
    return KeyedRule(tuple(stems), tuple(re.compile(pattern, re.MULTILINE) for pattern in patterns))


def _names(keys: Iterable[str]) -> list[str]:
    """Keys as the patterns match them: lower case, `-` as `_`; sorted, so a pattern is the same each run."""
    return sorted({key.strip().lower().replace("-", "_") for key in keys if key.strip()})


def _alternatives(names: list[str]) -> str:
    return "|".join(re.escape(name).replace("_", "[_-]") for name in names)


def mask_keyed(text: str, rule: KeyedRule | None = None) -> str:
    """`text` with the value after every secret key masked, the key kept: `password ****`, `?token=****&page=2`,
    `"secret": "****"`. The patterns run on the lower-cased text (faster than IGNORECASE), so its positions
    are the text's: a character whose lower case is longer (`İ`) lower-cases only ASCII instead."""
    rule = rule or keyed_rule()
    low = text.lower()
    if len(low) != len(text):
        low = text.translate(_ASCII_LOWER)
    if not any(stem in low for stem in rule.stems):
        return text
    spans = sorted(_inside_quotes(text, *span) for pattern in rule.patterns for span in _values(pattern, low))
    masked: list[str] = []
    at = 0
    for start, end in spans:
        if start == end:  # an empty quoted value: nothing to hide
            continue
        if start >= at:
            masked += [text[at:start], MASK]
        at = max(at, end)  # two syntaxes may find overlapping values: one mask for both
    return "".join(masked) + text[at:]


def _values(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    """Where `pattern`'s values are. Each search starts again at the last value, not after it: a key inside
    what looked like another key's value (`password="x token="y"`, an unclosed quote) is found too."""
    at = 0
    while match := pattern.search(text, at):
        yield match.span("value")
        at = match.start("value")


def _inside_quotes(text: str, start: int, end: int) -> tuple[int, int]:
    return (start + 1, end - 1) if text[start] in "'\"" else (start, end)


def extra_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(key.strip() for key in env.get(SECRET_KEYS_VAR, "").split(",") if key.strip())


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
    """A function that masks, in any text, every secret value found in `env`, every URL password and every
    value after a secret key (SECRET_KEYS, and those in PROD_ENTRY_SECRET_KEYS)."""
    values = [v for v in secret_values(env) if len(v) >= _MIN_SCAN_LENGTH]
    keyed = keyed_rule(extra_keys(env))

    def redact(text: str) -> str:
        text = mask_keyed(mask_urls(text), keyed)
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
