"""A canary secret in every form prod-entry may meet (secret-named variables, URL/DSN passwords, an X_FILE,
.env) must never appear in anything any command prints, on success or failure, in text or JSON logs."""

from __future__ import annotations

import pytest

from support import EXAMPLE, describe, example_env, free_port, run

CANARY = "canary-7c1d9e3f"


@pytest.fixture
def env(tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text(CANARY + "\n")
    dotenv = tmp_path / "prod.env"
    dotenv.write_text(f"EMAIL_HOST_PASSWORD={CANARY}\nSENTRY_DSN=https://key:{CANARY}@sentry.example/1\n")
    (tmp_path / "broken.env").write_text(f'SECRET_KEY="{CANARY}\n')
    closed = free_port()
    return example_env(
        DJANGO_SECRET_KEY=CANARY,
        DB_PASSWORD=CANARY,
        API_SECRET_FILE=str(secret_file),
        DATABASE_URL=f"postgres://app:{CANARY}@127.0.0.1:{closed}/app",
        CELERY_BROKER_URL=f"redis://:{CANARY}@127.0.0.1:{closed}/0",
        REDIS_URL=f"redis://user:{CANARY}@127.0.0.1:{closed}/1",
        PROD_ENTRY_ENV_FILE=str(dotenv),
        PROD_ENTRY_PROCESS_WORKER="rq",
        PROD_ENTRY_PROCESS_Q="celery-worker",
        PROD_ENTRY_LOG_LEVEL="debug",
        PORT=str(free_port()),
        BROKEN_ENV_PATH=str(tmp_path / "broken.env"),
    )


COMMANDS = [
    ["list"],
    ["show"],
    ["show", "worker"],
    ["show", "q"],
    ["show", "command", f"--password={CANARY}"],
    ["check"],
    ["healthcheck"],
    ["healthcheck", "worker"],
    ["--traceback", "show", "nosuch-process"],
    ["nosuch-process"],
]

FAILURES = [
    # a .env line that cannot be parsed is named by its line and key, never quoted whole
    ({"PROD_ENTRY_ENV_FILE": "{broken_env}"}, ["list"]),
    # wait-for progress lines and its timeout name the DSN's host:port, never its password
    ({"PROD_ENTRY_WAIT_FOR": "{DATABASE_URL}", "PROD_ENTRY_WAIT_TIMEOUT": "1.5"}, ["check"]),
    # a backend name that is a secret value, echoed in the error
    ({"PROD_ENTRY_PROCESS_X": CANARY}, ["x"]),
    ({"PROD_ENTRY_PROCESS_X": CANARY, "PROD_ENTRY_DEBUG": "1"}, ["x"]),
    # warmup failure (a view that raises) with the full traceback asked for
    ({"PROD_ENTRY_HEALTHCHECK_URL": "/boom", "PROD_ENTRY_DEBUG": "1"}, ["check"]),
    # a Celery worker whose broker (its URL holding the canary) is down: the check's line names the URL
    ({"PROD_ENTRY_BROKER_TIMEOUT": "1", "PROD_ENTRY_DEBUG": "1"}, ["check", "q"]),
    ({"PROD_ENTRY_BROKER_TIMEOUT": "1"}, ["q"]),
    # the run path up to exec, with debug logging of the argv
    ({"PROD_ENTRY_PROCESS_ECHO": "command", "PROD_ENTRY_PROCESS_ECHO_ARGS": f"true --token={CANARY}"}, ["echo"]),
]


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_commands_never_print_the_canary(env, args, log_format):
    proc = run(args, {**env, "PROD_ENTRY_LOG_FORMAT": log_format}, cwd=EXAMPLE)
    assert CANARY not in proc.stdout + proc.stderr, describe(proc)


def test_show_masks_short_secrets_as_whole_words(env):
    proc = run(["show", "command", "--password=ab1"], {**env, "SMTP_PASS": "ab1"}, cwd=EXAMPLE)
    assert proc.returncode == 0 and "--password=****" in proc.stdout and "ab1" not in proc.stdout, describe(proc)


def test_healthcheck_answers_1_even_for_bad_supervisor_settings(env):
    # Docker reserves a HEALTHCHECK's exit 2 (and the probe must not print the canary either).
    proc = run(["healthcheck"], {**env, "PROD_ENTRY_SHUTDOWN_DELAY": "soon"}, cwd=EXAMPLE)
    assert proc.returncode == 1 and "PROD_ENTRY_SHUTDOWN_DELAY" in proc.stderr, describe(proc)
    assert CANARY not in proc.stdout + proc.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(("extra", "args"), FAILURES, ids=lambda v: str(v)[:40])
def test_failure_paths_never_print_the_canary(env, extra, args, log_format):
    extra = {key: value.replace("{broken_env}", env["BROKEN_ENV_PATH"]).format(**env) for key, value in extra.items()}
    proc = run(args, {**env, **extra, "PROD_ENTRY_LOG_FORMAT": log_format}, cwd=EXAMPLE)
    assert proc.stdout + proc.stderr, describe(proc)  # something was printed, and it was scanned
    assert CANARY not in proc.stdout + proc.stderr, describe(proc)
