"""The real applications the tier deploys, each configured as its own documentation tells a user to, and everything
the tests need to know about one app in that app's section: what to install, how its configuration is written,
the page that proves it serves, how its configuration file breaks.

Chosen for being large, maintained, installed from PyPI and written by others, with their own way to configure:
pretix (a configparser file, PRETIX_CONFIG_FILE; Celery), Weblate (a settings module copied from the one it ships
and edited; Celery), and a Wagtail project made by `wagtail start` (a settings package reading the environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "localhost"  # the public host every app is configured for: its ALLOWED_HOSTS, or pretix's url


@dataclass(frozen=True)
class Services:
    """Where one deployment's database and Redis are. A fault is a changed field: a closed port, a wrong
    password, an empty database."""

    db_name: str
    db_user: str
    db_password: str
    db_port: int
    cache_url: str
    broker_url: str
    db_host: str = "127.0.0.1"

    def but(self, **changes: object) -> Services:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class App:
    name: str
    lock: Path                  # the pinned requirement list (top level + its `pip freeze`): also the cache key
    apt: tuple[str, ...]        # Debian packages its install or its import needs
    configure: Callable[[Path, Services, Path], dict[str, str]]  # (site, services, venv) -> the environment
    wsgi: str                   # the WSGI callable it serves
    web_app: str | None         # PROD_ENTRY_PROCESS_WEB_APP, where prod-entry cannot derive it
    worker_app: str | None      # its Celery app (None: it has no Celery)
    page: str                   # a real page that answers 200 once it serves
    health: str | None          # its own health endpoint, if it ships one
    steps: str                  # its release steps, as its docs list them
    new_migrations: str         # an app label whose migrations the release test leaves for the steps to apply
    break_config: Callable[[Path, str], str]  # (site, secret) -> what the error line must name
    secrets: tuple[str, ...] = ()  # more secrets its configuration holds
    reads_environment: bool = False  # its settings read variables of configure()'s environment at import

    @property
    def celery(self) -> bool:
        return self.worker_app is not None

    def __str__(self) -> str:
        return self.name


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected {old!r} once"
    path.write_text(text.replace(old, new))


def lines_with(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# --- pretix: ticketing. A configparser file (PRETIX_CONFIG_FILE), data directory created by its settings --------

def configure_pretix(site: Path, svc: Services, venv: Path) -> dict[str, str]:
    # No [django] secret: pretix then writes DATA_DIR/.secret at its first settings import, as in its own docs.
    # Not named pretix.cfg, which pretix reads from the working directory even without PRETIX_CONFIG_FILE.
    (site / "production.cfg").write_text(f"""\
[pretix]
instance_name=Real apps
url=http://{HOST}
currency=EUR
datadir={site}/data

[database]
backend=postgresql
name={svc.db_name}
user={svc.db_user}
password={svc.db_password}
host={svc.db_host}
port={svc.db_port}

[redis]
location={svc.cache_url}
sessions=true

[celery]
backend={svc.broker_url}
broker={svc.broker_url}
""")
    (site / "data").mkdir(exist_ok=True)
    return {"PRETIX_CONFIG_FILE": str(site / "production.cfg"), "DJANGO_SETTINGS_MODULE": "pretix.settings"}


def break_pretix(site: Path, secret: str) -> str:
    """`password hunter2`: the `=` forgotten. configparser's ParsingError quotes the line."""
    cfg = site / "production.cfg"
    old = next(line for line in cfg.read_text().splitlines() if line.startswith("password="))
    replace_once(cfg, old, f"password {secret}")
    return "ParsingError"


PRETIX = App(
    name="pretix",
    lock=HERE / "requirements" / "pretix.txt",
    apt=(),
    configure=configure_pretix,
    wsgi="pretix.wsgi:application",
    web_app=None,  # WSGI_APPLICATION = 'pretix.wsgi.application'
    worker_app="pretix.celery_app:app",
    page="/control/login",
    health="/healthcheck/",
    # Its docs also run `rebuild` (compilemessages, collectstatic, compress): the wheel ships the compressed
    # assets, so the pages render without it (and without a 25-second asset build in every test).
    steps="manage migrate --noinput",
    new_migrations="ticketoutputpdf",
    break_config=break_pretix,
    reads_environment=True,  # PRETIX_CONFIG_FILE (and any PRETIX_<SECTION>_<KEY> overrides the file)
)


# --- Weblate: translation. settings_example.py copied and edited, as its pip-install docs say -------------------

def configure_weblate(site: Path, svc: Services, venv: Path) -> dict[str, str]:
    example = next(venv.glob("lib/python3*/site-packages/weblate/settings_example.py"))
    package = site / "weblate_site"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").touch()
    settings = package / "settings.py"
    settings.write_text(example.read_text())
    for old, new in [
        ('SITE_DOMAIN = ""', f'SITE_DOMAIN = "{HOST}"'),
        ("DEBUG = True", "DEBUG = False"),
        ('"NAME": "weblate",', f'"NAME": "{svc.db_name}",'),
        ('"USER": "weblate",', f'"USER": "{svc.db_user}",'),
        ('"PASSWORD": "",', f'"PASSWORD": "{svc.db_password}",'),
        ('"HOST": "127.0.0.1",', f'"HOST": "{svc.db_host}",'),
        ('"PORT": "",', f'"PORT": "{svc.db_port}",'),
        ('DATA_DIR = "/home/weblate/data"', f'DATA_DIR = "{site}/data"'),
        ('SECRET_KEY = ""', f'SECRET_KEY = "{WEBLATE_SECRET_KEY}"'),
        ('ALLOWED_HOSTS = ["*"]', f'ALLOWED_HOSTS = ["{HOST}"]'),
        ('"LOCATION": "redis://127.0.0.1:6379/1",', f'"LOCATION": "{svc.cache_url}",'),
        ('CELERY_BROKER_URL = "redis://localhost:6379"', f'CELERY_BROKER_URL = "{svc.broker_url}"'),
    ]:
        replace_once(settings, old, new)
    (site / "data").mkdir(exist_ok=True)
    return {"DJANGO_SETTINGS_MODULE": "weblate_site.settings"}


WEBLATE_SECRET_KEY = "weblate-django-key-5b0e2c71d9a84f36"


def break_weblate(site: Path, secret: str) -> str:
    """The password's closing quote lost: a SyntaxError on the line that holds it."""
    settings = site / "weblate_site" / "settings.py"
    old = next(line for line in settings.read_text().splitlines() if '"PASSWORD": "' in line)
    replace_once(settings, old, f'        "PASSWORD": "{secret},')
    return f"SyntaxError: unterminated string literal (detected at line {lines_with(settings, secret)})"


WEBLATE = App(
    name="weblate",
    lock=HERE / "requirements" / "weblate.txt",
    # Its docs' build dependencies (borgbackup, pycairo, PyGObject compile from source) and the GObject
    # introspection data it imports at start.
    apt=("build-essential", "pkg-config", "python3-dev", "libcairo2-dev", "libgirepository1.0-dev",
         "gir1.2-pango-1.0", "gir1.2-rsvg-2.0", "libacl1-dev", "libssl-dev", "libxxhash-dev", "libzstd-dev",
         "liblz4-dev", "libtesseract-dev", "libleptonica-dev", "git"),
    configure=configure_weblate,
    wsgi="weblate.wsgi:application",
    web_app="weblate.wsgi:application",  # settings_example.py sets no WSGI_APPLICATION
    worker_app="weblate.utils.celery:app",
    page="/accounts/login/",
    health="/healthz/",
    # Its docs add collectstatic and compress; with COMPRESS_OFFLINE = False (settings_example.py) the pages
    # compress on first use, so migrate is the one step it needs to serve.
    steps="manage migrate --noinput",
    new_migrations="metrics",
    break_config=break_weblate,
    secrets=(WEBLATE_SECRET_KEY,),
)


# --- Wagtail: a CMS project made by `wagtail start`, configured from the environment --------------------------------

WAGTAIL_SECRET_KEY = "wagtail-django-key-8c2f61e0a7d94b15"

LOCAL_SETTINGS = """\
import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = [os.environ["SITE_HOST"]]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["DB_NAME"],
        "USER": os.environ["DB_USER"],
        "PASSWORD": os.environ["DB_PASSWORD"],
        "HOST": os.environ["DB_HOST"],
        "PORT": os.environ["DB_PORT"],
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}}
"""


def configure_wagtail(site: Path, svc: Services, venv: Path) -> dict[str, str]:
    """The project's settings read their values from the environment, given as Compose's env_file gives them."""
    env = {"DJANGO_SETTINGS_MODULE": "mysite.settings.production", "DJANGO_SECRET_KEY": WAGTAIL_SECRET_KEY,
           "SITE_HOST": HOST, "DB_NAME": svc.db_name, "DB_USER": svc.db_user, "DB_PASSWORD": svc.db_password,
           "DB_HOST": svc.db_host, "DB_PORT": str(svc.db_port), "REDIS_URL": svc.cache_url}
    if not (site / "manage.py").exists():
        shutil.copytree(wagtail_image(site.parent / "wagtail-image", venv, env), site, dirs_exist_ok=True)
    return env


def wagtail_image(project: Path, venv: Path, env: dict[str, str]) -> Path:
    """The project as its image holds it, made once beside the sites: `wagtail start`, the project's local
    settings, and `collectstatic` (a Dockerfile's RUN step: production.py's ManifestStaticFilesStorage renders no
    page without the manifest)."""
    if not (project / "static" / "staticfiles.json").exists():
        project.mkdir(exist_ok=True)
        subprocess.run([str(venv / "bin" / "wagtail"), "start", "mysite", str(project)], check=True,
                       capture_output=True)
        # production.py ends with `from .local import *`: where the project's own settings go.
        (project / "mysite" / "settings" / "local.py").write_text(LOCAL_SETTINGS)
        subprocess.run([str(venv / "bin" / "python"), "manage.py", "collectstatic", "--noinput"], cwd=project,
                       env={**os.environ, **env}, check=True, capture_output=True)
    return project


def break_wagtail(site: Path, secret: str) -> str:
    """The password moved into a .env file (prod-entry reads ./.env) with its `=` forgotten."""
    (site / ".env").write_text(f"# the database\nDB_PASSWORD {secret}\n")
    return ".env line 2"


WAGTAIL = App(
    name="wagtail",
    lock=HERE / "requirements" / "wagtail.txt",
    apt=(),
    configure=configure_wagtail,
    wsgi="mysite.wsgi:application",
    web_app=None,  # WSGI_APPLICATION = "mysite.wsgi.application"
    worker_app=None,
    page="/",  # the project's home page, created by its own migration home.0002_create_homepage
    health=None,
    steps="manage migrate --noinput; manage collectstatic --noinput",
    new_migrations="home",
    break_config=break_wagtail,
    secrets=(WAGTAIL_SECRET_KEY,),
    reads_environment=True,
)

APPS = (WAGTAIL, PRETIX, WEBLATE)  # the order the tier runs them in: quickest to build first
CELERY_APPS = tuple(app for app in APPS if app.celery)


def by_name(name: str) -> App:
    return next(app for app in APPS if app.name == name)

