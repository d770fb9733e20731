import configparser
import json
import logging
from urllib.parse import urlencode

import pytest

from entrypoint.logs import jsonlog
from entrypoint.settings import secrets
from entrypoint.settings.error_lines import describe


def test_secret_names():
    for name in ("DJANGO_SECRET_KEY", "DB_PASSWORD", "API_TOKEN", "aws_access_key_id", "GOOGLE_CREDENTIALS"):
        assert secrets.is_secret_name(name), name
    for name in ("PORT", "DJANGO_SETTINGS_MODULE", "PROD_ENTRY_PROCESS_WEB"):
        assert not secrets.is_secret_name(name), name


def test_url_passwords_are_masked():
    assert secrets.mask_urls("postgres://app:s3cr3t@db:5432/app") == "postgres://app:****@db:5432/app"
    assert secrets.mask_urls("redis://:pw0rd@r/0 and amqp://u:p@h//") == "redis://:****@r/0 and amqp://u:****@h//"
    assert secrets.mask_urls("http://host:8000/path") == "http://host:8000/path"


def test_redactor_masks_values_anywhere():
    redact = secrets.redactor({"API_TOKEN": "tok-123456", "DATABASE_URL": "postgres://u:dbpass99@h/d", "PORT": "8000"})
    text = redact("--token=tok-123456 --db=postgres://u:dbpass99@h/d dbpass99 port 8000")
    assert "tok-123456" not in text and "dbpass99" not in text and "8000" in text


def test_word_redactor_masks_short_secrets_as_whole_words():
    redact = secrets.word_redactor({"DB_PASS": "abc", "API_TOKEN": "tok-123456", "PORT": "80"})
    assert [redact(w) for w in ["abc", "--password=abc", "abcdef", "--t=tok-123456", "80"]] == \
        ["****", "--password=****", "abcdef", "--t=****", "80"]


def test_header_settings_are_masked_whole_and_value_by_value():
    env = {"PROD_ENTRY_PROCESS_WEB_HEALTHCHECK_HEADERS": "Authorization: Bearer tok-abcdef; X-Probe: 1",
           "PROD_ENTRY_WARMUP_HEADERS": '{"X-Api-Key": "key-123456"}'}
    redact = secrets.redactor(env)
    assert redact("sent Bearer tok-abcdef and key-123456") == "sent **** and ****"
    assert redact("token tok-abcdef") == "token ****"
    # A one-character value is no secret worth masking innocent words for.
    assert secrets.word_redactor(env)("--workers=1") == "--workers=1"


def test_malformed_header_settings_still_mask_their_values():
    assert secrets.redactor({"PROD_ENTRY_WARMUP_HEADERS": "Authorization: Bearer tok-abcdef; oops"})("tok-abcdef") == "****"


# Secret keys in any text: real texts, made by the code that writes them where it is at hand.


def configparser_error(tmp_path) -> configparser.ParsingError:
    path = tmp_path / "app.cfg"
    path.write_text("[db]\nuser = app\npassword hunter2-pw\n")
    try:
        configparser.ConfigParser().read(str(path))
    except configparser.ParsingError as exc:
        return exc
    raise AssertionError("configparser accepted the line")


def test_configparsers_quote_of_a_bad_line_and_prod_entrys_line_about_it(tmp_path):
    redact = secrets.redactor({})
    exc = configparser_error(tmp_path)
    assert redact(str(exc)) == f"Source contains parsing errors: '{tmp_path}/app.cfg'\n\t[line  3]: 'password ****'"
    assert redact(describe(exc)) == \
        f"ParsingError: Source contains parsing errors: '{tmp_path}/app.cfg': [line  3]: 'password ****'"


def access_record(path: str) -> dict:
    logger = logging.getLogger("prod-entry-test.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        jsonlog.log_access(logger, "GET", path, 200, 1.0, "10.0.0.1", "curl/8", None)
    finally:
        logger.removeHandler(handler)
    return json.loads(jsonlog.JsonFormatter().format(records[0]))


def test_an_access_records_query_string():
    record = access_record("/oauth/callback?" + urlencode({"code": "4/0AY0e-g7x", "state": "xyz", "page": 2}))
    assert record["path"] == "/oauth/callback?code=****&state=xyz&page=2"
    assert record["message"] == "GET /oauth/callback?code=****&state=xyz&page=2 200"
    signed = access_record("/media/a.pdf?" + urlencode({"X-Amz-Credential": "AKIAEXAMPLE/2026", "X-Amz-Signature":
                                                        "9f8e7d6c5b4a", "X-Amz-Expires": 300, "token": "tok-xyz123"}))
    assert signed["path"] == "/media/a.pdf?X-Amz-Credential=****&X-Amz-Signature=****&X-Amz-Expires=300&token=****"


@pytest.mark.parametrize("text, masked", [
    # DSNs: a URL's password, libpq's keyword form
    ("postgres://app:s3cr3t-pw@db:5432/app", "postgres://app:****@db:5432/app"),
    ("host=db port=5432 user=app password=s3cr3t-pw dbname=app", "host=db port=5432 user=app password=**** dbname=app"),
    # redis: a password without a user, and as a query parameter
    ("redis://:r3dis-pw@cache:6379/0", "redis://:****@cache:6379/0"),
    ("rediss://cache:6380/0?password=r3dis-pw&ssl_cert_reqs=none",
     "rediss://cache:6380/0?password=****&ssl_cert_reqs=none"),
    # JSON and Python reprs, escapes included
    (json.dumps({"user": "app", "password": 'pa"ss', "secret": "s"}),
     '{"user": "app", "password": "****", "secret": "****"}'),
    (repr({"token": "tok-xyz", "api_key": "k-123", "page": 2}), "{'token': '****', 'api_key': '****', 'page': 2}"),
    # argv words, environment lines, a Django settings line in a traceback, a header
    ("gunicorn --api-key=k-123 --db-password 'a b' --workers 2",
     "gunicorn --api-key=**** --db-password '****' --workers 2"),
    ("DJANGO_SECRET_KEY=django-insecure-xyz", "DJANGO_SECRET_KEY=****"),
    ("    SECRET_KEY = 'django-insecure-xyz'", "    SECRET_KEY = '****'"),
    ("Authorization: Bearer tok-xyz, X-Api-Key: k-123", "Authorization: Bearer ****, X-Api-Key: ****"),
    ("password: hunter2\nuser: app", "password: ****\nuser: app"),
    # stays readable: no key, a key that is a word of prose, a file that holds a key, a key already masked
    ("KeyError: 'SECRET_KEY'", "KeyError: 'SECRET_KEY'"),
    ("the key 'cache' is missing", "the key 'cache' is missing"),
    ("--key-file=/run/secrets/tls.key --keyfile=/x/key.pem", "--key-file=/run/secrets/tls.key --keyfile=/x/key.pem"),
    ("the worker exited with exit code: 2 (status_code=500, primary_key=True)",
     "the worker exited with exit code: 2 (status_code=500, primary_key=True)"),
    ('connection to server at "db" failed: FATAL:  password authentication failed for user "app"',
     'connection to server at "db" failed: FATAL:  password authentication failed for user "app"'),
    ("ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
     "ImproperlyConfigured: The SECRET_KEY setting must not be empty."),
    ("warmup passed (headers Authorization: ****, X-Probe: ****)",
     "warmup passed (headers Authorization: ****, X-Probe: ****)"),
])
def test_values_after_secret_keys(text, masked):
    assert secrets.redactor({})(text) == masked


def test_more_keys_from_the_environment():
    redact = secrets.redactor({"PROD_ENTRY_SECRET_KEYS": "pin, x-otp-seed"})
    assert redact("pin=1234 X_OTP_SEED: abcd spin=1") == "pin=**** X_OTP_SEED: **** spin=1"
    assert secrets.redactor({})("pin=1234") == "pin=1234"
