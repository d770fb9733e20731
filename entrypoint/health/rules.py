"""What "healthy" means for a web process, shared by the warmup (in memory) and the probe (over TCP).

Pure: settings in, values out. Kept free of heavy imports because `prod-entry healthcheck` runs every few
seconds in every container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from entrypoint.settings import units
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.names import OFF, ON, process_var

if TYPE_CHECKING:
    from entrypoint.settings.config import Process

DEFAULT_URL = "/"
# With no HEALTHCHECK_URL, any answer short of a server error proves the app loads and serves (401/403 on a
# login-only site, 404 on an API with nothing at /), except 400: a plain GET is never a bad request, so a 400
# means the app rejects the request itself, most often its Host (Django's DisallowedHost).
ANSWERED = ((100, 399), (401, 499))
ANSWERED_TEXT = "below 500, 400 excepted"
SAFE_HOST = "localhost"
# Headers the probe and the warmup set themselves: a header setting may not replace them.
OWN_HEADERS = ("host", "connection", "content-length", "transfer-encoding")


class Check(NamedTuple):
    """One request and the statuses that pass it; `setting` names where the statuses came from."""

    path: str
    statuses: tuple[tuple[int, int], ...]
    setting: str

    def passes(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.statuses)

    def expected(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.statuses)


def debugging(env: Mapping[str, str]) -> bool:
    """PROD_ENTRY_DEBUG: tracebacks wanted (any value but empty and the OFF words; --traceback sets it too)."""
    return env.get("PROD_ENTRY_DEBUG", "").strip().lower() not in ("", *OFF)


def setting_name(process: Process | None, key: str) -> str:
    """The variable a user would set for `key`: the per-process one when it is set, else the global one."""
    if process is not None and key in process.settings:
        return process_var(process.name, key)
    return f"PROD_ENTRY_{key}"


def get(process: Process | None, env: Mapping[str, str], key: str) -> str | None:
    if process is None:
        return env.get(f"PROD_ENTRY_{key}")
    return process.setting(env, key)


def parse_statuses(text: str, var: str) -> tuple[tuple[int, int], ...]:
    """`200`, `200,204`, `200-399` (and mixes) -> ((low, high), ...)."""
    ranges = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        high = high if dash else low
        if not low.isdigit() or not high.isdigit() or not 100 <= int(low) <= int(high) <= 599:
            raise ConfigError(f"{var}={text!r}: {part!r} is not an HTTP status or range: write e.g. 200, "
                              "200,204 or 200-399")
        ranges.append((int(low), int(high)))
    if not ranges:
        raise ConfigError(f"{var} is empty: unset it or write e.g. 200 or 200-399")
    return tuple(ranges)


def parse_path(text: str, var: str) -> str:
    """A URL path with optional query; a full URL is reduced to its path (the host comes from elsewhere)."""
    text = text.strip()
    if "://" in text:
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        text = parts.path + (f"?{parts.query}" if parts.query else "")
    if not text.startswith("/"):
        raise ConfigError(f"{var}={text!r} is not a URL path: write it like /healthz")
    return text


def health_check(process: Process | None, env: Mapping[str, str], given: str | None = None) -> Check:
    """HEALTHCHECK_URL (or the probe's --url, `given`) with HEALTHCHECK_STATUS (default 200); unset, `/`
    with any status below 500 but 400."""
    url = given or get(process, env, "HEALTHCHECK_URL")
    status = get(process, env, "HEALTHCHECK_STATUS")
    path = parse_path(url, "--url" if given else setting_name(process, "HEALTHCHECK_URL")) if url else DEFAULT_URL
    if status:
        var = setting_name(process, "HEALTHCHECK_STATUS")
        return Check(path, parse_statuses(status, var), var)
    if url:
        return Check(path, ((200, 200),), "the default of PROD_ENTRY_HEALTHCHECK_STATUS")
    return Check(path, ANSWERED, f"the default health check (/ answering {ANSWERED_TEXT})")


def warmup_checks(process: Process | None, env: Mapping[str, str]) -> list[Check]:
    """The health check, then every WARMUP_URLS path (any status below 500 but 400 passes those)."""
    checks = [health_check(process, env)]
    urls = get(process, env, "WARMUP_URLS") or ""
    var = setting_name(process, "WARMUP_URLS")
    for word in urls.replace(",", " ").split():
        checks.append(Check(parse_path(word, var), ANSWERED, var))
    return checks


def seconds(process: Process | None, env: Mapping[str, str], key: str, default: float, zero: bool = False) -> float:
    """The setting as seconds, above 0 (at least 0 with `zero`, for a setting whose 0 turns something off)."""
    text = get(process, env, key)
    if text is None or not text.strip():
        return default
    value = units.seconds(text, zero)
    if value is None:
        raise ConfigError(f"{setting_name(process, key)}={text!r} is not a number of seconds: write e.g. 30"
                          + (" (or 0)" if zero else ""))
    return value


def flag(process: Process | None, env: Mapping[str, str], key: str, default: bool) -> bool:
    text = get(process, env, key)
    if text is None or not text.strip():
        return default
    value = text.strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise ConfigError(f"{setting_name(process, key)}={text!r} is not a switch: write 1 or 0")


def host_from_allowed_hosts(allowed: object) -> str:
    """The Host header Django will accept: ALLOWED_HOSTS[0], `*` -> localhost, `.example.com` -> example.com."""
    if not isinstance(allowed, (list, tuple)) or not allowed:
        return SAFE_HOST
    first = str(allowed[0]).strip()
    if first in ("*", "") or "*" in first:
        return SAFE_HOST
    return first.lstrip(".")


def connect_host(bind_host: str) -> str:
    """Where to reach a server bound to `bind_host`: the wildcard addresses mean this machine."""
    if bind_host in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if bind_host == "::":
        return "::1"
    return bind_host


def parse_headers(text: str, var: str) -> tuple[tuple[str, str], ...]:
    """`Name: value; Name2: value2` (or one per line), or a JSON object `{"Name": "value"}` for values that
    hold a `;`. The messages never quote a value: header values are credentials more often than not."""
    text = text.strip()
    pairs: list[tuple[str, str]] = []
    if text.startswith("{"):
        import json

        try:
            loaded = json.loads(text)
        except ValueError:
            raise ConfigError(f"{var} starts with {{ but is not a JSON object: write {{\"Authorization\": "
                              "\"Bearer ...\"}, or Name: value; Name2: value") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ConfigError(f"{var} is JSON but not an object of strings: write {{\"Name\": \"value\"}}")
        pairs = [(str(k).strip(), v.strip()) for k, v in loaded.items()]
    else:
        for number, part in enumerate(text.replace("\n", ";").split(";"), 1):
            if not part.strip():
                continue
            name, colon, value = part.partition(":")
            if not colon:
                raise ConfigError(f"{var}: part {number} has no `:`: write Name: value; Name2: value")
            pairs.append((name.strip(), value.strip()))
    for name, value in pairs:
        if not name or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name) or not name.isascii():
            raise ConfigError(f"{var}: {name[:40]!r} is not a header name: write Name: value; Name2: value")
        if "_" in name:  # gunicorn drops such headers, and WSGI cannot tell X_Probe from X-Probe
            raise ConfigError(f"{var}: write the header {name!r} with - instead of _")
        if name.lower() in OWN_HEADERS:
            hint = "set PROD_ENTRY_WARMUP_HOST (or give healthcheck --host)" if name.lower() == "host" else \
                "prod-entry sets it itself"
            raise ConfigError(f"{var}: the {name} header cannot be set here: {hint}")
        if any(c in value for c in "\r\n\0"):
            raise ConfigError(f"{var}: the value of {name} holds a line break or NUL: remove it")
    return tuple(pairs)


def headers(process: Process | None, env: Mapping[str, str], key: str,
            fallback: str | None = None) -> tuple[tuple[str, str], ...]:
    """The `key` setting (WARMUP_HEADERS, HEALTHCHECK_HEADERS), else `fallback`'s, parsed. Their `_FILE`
    forms were read into the environment by config.read_secret_files."""
    for name in (key, fallback):
        text = get(process, env, name) if name else None
        if text is not None and text.strip():
            return parse_headers(text, setting_name(process, name))  # type: ignore[arg-type]
    return ()


def shown_headers(pairs: tuple[tuple[str, str], ...]) -> str:
    """Headers for a log line: names only, every value masked."""
    from entrypoint.settings.secrets import MASK

    return ", ".join(f"{name}: {MASK}" for name, _ in pairs)


def host_allowed(host: str, allowed: object, debug: bool) -> bool:
    """Whether Django's validate_host accepts `host` (port stripped): `*`, `.example.com` (the domain and its
    subdomains), or an exact name; with DEBUG and an empty list, Django allows localhost names."""
    patterns = [str(p).lower() for p in allowed] if isinstance(allowed, (list, tuple)) else []
    if debug and not patterns:
        patterns = [".localhost", "127.0.0.1", "[::1]"]
    domain = host_domain(host)
    return any(p == "*" or (p.startswith(".") and (domain.endswith(p) or domain == p[1:])) or p == domain
               for p in patterns)


def host_domain(host: str) -> str:
    """A Host header as ALLOWED_HOSTS matches it: lower case, no port, no trailing dot."""
    domain = host.lower()
    domain = domain[:domain.find("]") + 1] if domain.startswith("[") else domain.rsplit(":", 1)[0]
    return domain.removesuffix(".")


def disallowed_host(sent: str, allowed: object, settings: str, host_var: str) -> str:
    """The one line for a Host Django rejects: the Host sent, the ALLOWED_HOSTS in effect, both fixes."""
    shown = list(allowed) if isinstance(allowed, (list, tuple)) else allowed
    host = host_domain(sent)
    if not shown:
        return (f"Django answers every request 400 (DisallowedHost): ALLOWED_HOSTS is empty in {settings} and "
                f"DEBUG is off, so the Host {sent!r} sent is refused too: add the site's host names to "
                f"ALLOWED_HOSTS, and {host!r} for the warmup and healthcheck (or set {host_var} to one of the "
                "site's names)")
    return (f"Django refused the Host {sent!r} (DisallowedHost): ALLOWED_HOSTS in {settings} is {shown!r}: add "
            f"{host!r} to ALLOWED_HOSTS, or set {host_var} to a host it lists")
