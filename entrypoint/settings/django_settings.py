"""What the backends derive from Django settings. Imports the settings module only, never `django.setup()`:
reading WSGI_APPLICATION must not cost an app registry on the way to exec."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from types import ModuleType

from entrypoint.settings.errors import ConfigError
from entrypoint.settings.error_lines import describe, last_line


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


_MISSING = object()


def application(env: Mapping[str, str], setting: str, needed_for: str, serve_wsgi: str | None = None) -> str:
    """WSGI_APPLICATION / ASGI_APPLICATION as the `module:attr` that servers take. `serve_wsgi`: for an ASGI
    server that can serve WSGI too, how (offered when only WSGI_APPLICATION is set)."""
    module = settings_module(env, needed_for)
    value = getattr(module, setting, _MISSING)
    if not isinstance(value, str) or "." not in value:
        raise ConfigError(_no_application(module, setting, value, needed_for, serve_wsgi))
    module_path, _, attr = value.rpartition(".")
    return f"{module_path}:{attr}"


def _no_application(module: ModuleType, setting: str, value: object, needed_for: str,
                     serve_wsgi: str | None) -> str:
    """What to set when WSGI_APPLICATION / ASGI_APPLICATION is missing: the project's own wsgi.py / asgi.py
    when there is one (startproject writes both, but sets only WSGI_APPLICATION)."""
    kind = setting[:4].lower()
    found = _sibling_module(module, getattr(module, "WSGI_APPLICATION", None), kind)
    spec = f"{found}.application" if found else f"myproject.{kind}.application"
    what = f"is not set in {module.__name__}" if value is _MISSING else f"in {module.__name__} is {value!r}"
    fixes = [f"set {setting} = {spec!r} in {module.__name__}" + (f" ({found.replace('.', '/')}.py is there)"
                                                                   if found else ""),
             f"or {needed_for}={spec.rpartition('.')[0]}:application"]
    if kind == "asgi" and serve_wsgi and isinstance(getattr(module, "WSGI_APPLICATION", None), str):
        args = needed_for.removesuffix("_APP") + "_ARGS" if needed_for.endswith("_APP") else "the process's ARGS"
        fixes.append(f"or serve WSGI_APPLICATION with {serve_wsgi} in {args}")
    return f"{setting} {what}, so there is no app to serve: {', '.join(fixes)}"


def _sibling_module(settings: ModuleType, wsgi_application: object, kind: str) -> str | None:
    """`mysite.asgi` when it exists beside WSGI_APPLICATION's module or in the settings' top package."""
    import importlib.util

    packages = []
    if isinstance(wsgi_application, str) and wsgi_application.count(".") >= 2:
        packages.append(wsgi_application.rsplit(".", 2)[0])
    packages.append(settings.__name__.split(".")[0])
    for package in packages:
        try:
            if importlib.util.find_spec(f"{package}.{kind}") is not None:
                return f"{package}.{kind}"
        except (ImportError, ValueError):
            continue
    return None


def project_package(env: Mapping[str, str], needed_for: str) -> str:
    """`myproject` for DJANGO_SETTINGS_MODULE=myproject.settings: where Celery's app lives by convention."""
    name = env.get("DJANGO_SETTINGS_MODULE", "").strip()
    if "." not in name:
        raise ConfigError(f"{needed_for} is not set and cannot be derived from DJANGO_SETTINGS_MODULE="
                          f"{name!r}: set {needed_for} (e.g. myproject)")
    return name.split(".")[0]
