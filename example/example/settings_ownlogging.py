"""The example's settings with a LOGGING whose console handler has a format of its own: prod-entry's JSON logs
leave such a handler alone (tests/integration/test_json_logs.py)."""

from example.settings import *  # noqa: F401,F403

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"own": {"format": "OWN-FORMAT %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"own": {"class": "logging.StreamHandler", "formatter": "own", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["own"], "level": "WARNING"},
}
