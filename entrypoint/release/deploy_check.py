"""PROD_ENTRY_CHECK_DEPLOY: Django's `check --deploy` in the process about to exec a web server, so that a
deployment with a failing check never starts serving. The only step on the exec path that runs
`django.setup()`, and only when asked for."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from entrypoint.logs.log import Logger
from entrypoint.settings.errors import ConfigError, WarmupError
from entrypoint.settings.error_lines import describe, last_line
from entrypoint.settings.names import OFF, ON
from entrypoint.settings.registry import WEB

VARIABLE = "PROD_ENTRY_CHECK_DEPLOY"
_OFF = ("", *OFF)
_ERROR = (*ON, "error")


def check_deploy(env: Mapping[str, str], kind: str, logger: Logger) -> None:
    """Run the checks when PROD_ENTRY_CHECK_DEPLOY asks for them and the process (of `kind`) is a web server;
    raise WarmupError (exit 3) naming the check ids at or above the failing level (error, or warning)."""
    value = env.get(VARIABLE, "").strip().lower()
    if value in _OFF or kind != WEB:
        return
    if value not in (*_ERROR, "warning"):
        raise ConfigError(f"{VARIABLE}={value!r}: set 1 (fail on errors), warning (fail on warnings too) or 0")
    if not env.get("DJANGO_SETTINGS_MODULE", "").strip():
        raise ConfigError(f"{VARIABLE}={value} needs Django: set DJANGO_SETTINGS_MODULE or unset {VARIABLE}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", env["DJANGO_SETTINGS_MODULE"])
    if os.getcwd() not in sys.path:  # the project is imported relative to the working directory, as servers do
        sys.path.insert(0, os.getcwd())

    import django
    from django.core import checks

    try:
        django.setup()
        messages = [m for m in checks.run_checks(include_deployment_checks=True) if not m.is_silenced()]
    except Exception as exc:  # the user's project failed to load: theirs to fix, without a traceback
        raise WarmupError(f"{VARIABLE}: Django could not load the project to run check --deploy "
                          f"({describe(exc)})") from None
    fail_at = checks.WARNING if value == "warning" else checks.ERROR
    failing = [m for m in messages if m.level >= fail_at]
    passing = [m for m in messages if m.level < fail_at and m.level >= checks.WARNING]
    if passing:
        logger.warning(f"check --deploy: {len(passing)} warning(s): {', '.join(str(m.id) for m in passing)} "
                       f"(`python manage.py check --deploy` explains them)")
    if failing:
        ids = ", ".join(str(m.id) for m in failing)
        # One problem fits on the line; several would not, and `check --deploy` prints them in full.
        detail = f" ({last_line(str(failing[0].msg)).split('. ')[0][:160]})" if len(failing) == 1 else ""
        raise WarmupError(f"{VARIABLE}: Django's check --deploy found {len(failing)} problem(s): {ids}{detail}: "
                          "fix them (`python manage.py check --deploy` explains each), or list their ids in "
                          "SILENCED_SYSTEM_CHECKS")
    logger.debug("check --deploy passed")
