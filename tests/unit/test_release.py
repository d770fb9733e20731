"""Release steps: parsing PROD_ENTRY_PROCESS_<NAME>_BEFORE and choosing the lock (pure parts)."""

from __future__ import annotations

import pytest

from entrypoint.release import steps as release
from entrypoint.settings.errors import ConfigError


@pytest.mark.parametrize(("text", "steps"), [
    ("manage migrate --noinput", [["manage", "migrate", "--noinput"]]),
    ("manage migrate; manage collectstatic --noinput", [["manage", "migrate"], ["manage", "collectstatic", "--noinput"]]),
    ("manage migrate;", [["manage", "migrate"]]),
    ("sh -c 'a; b'; true", [["sh", "-c", "a; b"], ["true"]]),
    ("manage migrate;manage check", [["manage", "migrate"], ["manage", "check"]]),
])
def test_parse(text: str, steps: list[list[str]]) -> None:
    assert release.parse(text, "V") == steps


@pytest.mark.parametrize(("text", "needle"), [
    ("", "step 1 is empty"), (";", "step 1 is empty"), ("a;;b", "step 2 is empty"),
    ("a 'open", "cannot be split like a command line"),
])
def test_parse_refuses(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        release.parse(text, "V")


def test_lock_from_django_settings() -> None:
    pg = release._from_django({"ENGINE": "django.db.backends.postgresql", "NAME": "app", "USER": "u",
                               "PASSWORD": "p", "HOST": "db", "PORT": 5433, "OPTIONS": {"sslmode": "require"}})
    assert pg.kind == "postgresql" and pg.where == "db:5433/app"
    assert pg.connect == {"dbname": "app", "user": "u", "password": "p", "host": "db", "port": "5433",
                          "sslmode": "require"}
    assert "p" not in pg.describe().split()  # the password never reaches a message
    assert release._from_django({"ENGINE": "django.db.backends.sqlite3", "NAME": "/data/db.sqlite3"}) == \
        release.Lock("sqlite", "/data/db.sqlite3.prod-entry-lock")
    assert release._from_django({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}).kind == "none"
    assert release._from_django({"ENGINE": "django.db.backends.mysql"}).kind == "none"


def test_lock_from_database_url_without_django() -> None:
    lock = release.lock_for({"DATABASE_URL": "postgres://u:secret@db:6432/app"})
    assert lock.kind == "postgresql" and lock.where == "db:6432/app" and "secret" not in lock.describe()
    assert release.lock_for({}).kind == "none"


def test_the_key_is_the_documented_one() -> None:
    assert release.LOCK_KEY == int.from_bytes(b"prodntry", "big")
    assert release.LOCK_KEY >> 32 == 1886547812 and release.LOCK_KEY & 0xFFFFFFFF == 1853125241
