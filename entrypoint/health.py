"""What "healthy" means for a web process, shared by the warmup (in memory) and the probe (over TCP).

Pure: settings in, values out. Kept free of heavy imports because `prod-entry healthcheck` runs every few
seconds in every container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from entrypoint import units
from entrypoint.names import process_var
from entrypoint.errors import ConfigError

if TYPE_CHECKING:
    from entrypoint.config import Process

DEFAULT_URL = "/"
# With no HEALTHCHECK_URL, any answer short of a server error proves the app loads and serves.
ANSWERED = ((100, 499),)
SAFE_HOST = "localhost"


class Check(NamedTuple):
    """One request and the statuses that pass it; `setting` names where the statuses came from."""

    path: str
    statuses: tuple[tuple[int, int], ...]
    setting: str

    def passes(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.statuses)

    def expected(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.statuses)


# The words every on/off setting accepts (PROD_ENTRY_WARMUP, PROD_ENTRY_DEBUG, PROD_ENTRY_CHECK_DEPLOY, ...).
ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off")


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


def health_check(process: Process | None, env: Mapping[str, str]) -> Check:
    """HEALTHCHECK_URL with HEALTHCHECK_STATUS (default 200); unset, `/` with any status below 500."""
    url = get(process, env, "HEALTHCHECK_URL")
    status = get(process, env, "HEALTHCHECK_STATUS")
    path = parse_path(url, setting_name(process, "HEALTHCHECK_URL")) if url else DEFAULT_URL
    if status:
        var = setting_name(process, "HEALTHCHECK_STATUS")
        return Check(path, parse_statuses(status, var), var)
    if url:
        return Check(path, ((200, 200),), "the default of PROD_ENTRY_HEALTHCHECK_STATUS")
    return Check(path, ANSWERED, "the default health check (/ answering below 500)")


def warmup_checks(process: Process | None, env: Mapping[str, str]) -> list[Check]:
    """The health check, then every WARMUP_URLS path (any status below 500 passes those)."""
    checks = [health_check(process, env)]
    urls = get(process, env, "WARMUP_URLS") or ""
    var = setting_name(process, "WARMUP_URLS")
    for word in urls.replace(",", " ").split():
        checks.append(Check(parse_path(word, var), ANSWERED, var))
    return checks


def seconds(process: Process | None, env: Mapping[str, str], key: str, default: float) -> float:
    text = get(process, env, key)
    if text is None or not text.strip():
        return default
    value = units.seconds(text)
    if value is None:
        raise ConfigError(f"{setting_name(process, key)}={text!r} is not a number of seconds: write e.g. 30")
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
