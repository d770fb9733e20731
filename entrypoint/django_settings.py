"""What the backends derive from Django settings. Imports the settings module only, never `django.setup()`:
reading WSGI_APPLICATION must not cost an app registry on the way to exec."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from types import ModuleType

from entrypoint.errors import ConfigError, describe, last_line


def settings_module(env: Mapping[str, str], needed_for: str) -> ModuleType:
    """The module named by DJANGO_SETTINGS_MODULE; `needed_for` says, in the error, what it was wanted for."""
    name = env.get("DJANGO_SETTINGS_MODULE", "").strip()
    if not name:
        raise ConfigError(f"DJANGO_SETTINGS_MODULE is not set, so {needed_for} cannot be derived: set "
                          "DJANGO_SETTINGS_MODULE or set it explicitly")
    # Servers import the app relative to the working directory; settings must be found the same way.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"DJANGO_SETTINGS_MODULE={name} cannot be imported ({last_line(str(exc))}): check the module path "
                          "and the working directory") from None
    except Exception as exc:  # the user's settings raised: report it, it is theirs to fix
        raise ConfigError(f"DJANGO_SETTINGS_MODULE={name} raised {describe(exc)}") from None


def application(env: Mapping[str, str], setting: str, needed_for: str) -> str:
    """WSGI_APPLICATION / ASGI_APPLICATION as the `module:attr` that servers take."""
    module = settings_module(env, needed_for)
    value = getattr(module, setting, None)
    if not isinstance(value, str) or "." not in value:
        # Name the project's own module (startproject writes PROJECT/asgi.py but never sets ASGI_APPLICATION).
        guess = f"{module.__name__.split('.')[0]}.{setting[:4].lower()}"
        raise ConfigError(f"{setting} in {module.__name__} is {value!r}, so {needed_for} cannot be derived: set "
                          f"{setting} = '{guess}.application' or {needed_for}={guess}:application")
    module_path, _, attr = value.rpartition(".")
    return f"{module_path}:{attr}"


def project_package(env: Mapping[str, str], needed_for: str) -> str:
    """`myproject` for DJANGO_SETTINGS_MODULE=myproject.settings: where Celery's app lives by convention."""
    name = env.get("DJANGO_SETTINGS_MODULE", "").strip()
    if "." not in name:
        raise ConfigError(f"{needed_for} is not set and cannot be derived from DJANGO_SETTINGS_MODULE="
                          f"{name!r}: set {needed_for} (e.g. myproject)")
    return name.split(".")[0]
