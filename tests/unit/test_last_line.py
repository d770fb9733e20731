"""error_lines.last_line, the one helper that turns another program's multi-line text into the line a one-line
message carries, and Response.summary, which uses it for non-HTML bodies."""

from __future__ import annotations

import traceback

import pytest

from entrypoint.settings.error_lines import last_line
from entrypoint.warmup.appclient import Response


def formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def raised(make: object) -> BaseException:
    try:
        make()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_a_real_traceback_gives_its_exception_line() -> None:
    def fail() -> None:
        raise RuntimeError("cannot reach the cache at redis://cache:6379")

    assert last_line(formatted(raised(fail))) == "RuntimeError: cannot reach the cache at redis://cache:6379"


def test_a_chained_traceback_gives_the_last_exception() -> None:
    def fail() -> None:
        try:
            {}["key"]
        except KeyError as exc:
            raise ValueError("settings.CACHE has no 'key'") from exc

    assert last_line(formatted(raised(fail))) == "ValueError: settings.CACHE has no 'key'"


def test_a_traceback_whose_message_spans_lines_gives_its_first_line_and_ignores_output_after_it() -> None:
    def fail() -> None:
        raise OSError("first line of the message\nsecond line")

    text = formatted(raised(fail)) + "\nERROR:    Application startup failed. Exiting.\n"
    assert last_line(text) == "OSError: first line of the message"


@pytest.mark.parametrize("text, line", [
    ("", ""),
    ("\n  \n", ""),
    ("one line", "one line"),
    ("first\nsecond\n\n", "second"),
    # psycopg: the error, then its tab-indented hint, once per address tried
    ('connection to server at "db" (10.0.0.1), port 5432 failed: Connection refused\n'
     "\tIs the server running on that host and accepting TCP/IP connections?\n",
     'connection to server at "db" (10.0.0.1), port 5432 failed: Connection refused: '
     "Is the server running on that host and accepting TCP/IP connections?"),
    # SQLAlchemy: a bare pointer to its docs comes last
    ("(psycopg2.OperationalError) connection refused\n\n(Background on this error at: https://sqlalche.me/e/20/e3q8)",
     "(psycopg2.OperationalError) connection refused"),
    # pydantic: the field, then its error indented under it, then a docs pointer indented further
    ("1 validation error for Settings\ndatabase_url\n  Field required [type=missing]\n"
     "    For further information visit https://errors.pydantic.dev/2.7/v/missing",
     "database_url: Field required [type=missing]"),
    ("  all\n  indented\n", "indented"),
])
def test_other_texts(text: str, line: str) -> None:
    assert last_line(text) == line


def response(body: bytes, content_type: str | None) -> Response:
    return Response(500, [("Content-Type", content_type)] if content_type else [], body)


def test_summary_of_a_plain_text_traceback_names_the_error() -> None:
    # Starlette's ServerErrorMiddleware with debug=True answers a non-browser with the traceback as text.
    def fail() -> None:
        raise ZeroDivisionError("division by zero")

    body = formatted(raised(fail)).encode()
    assert response(body, "text/plain; charset=utf-8").summary() == "ZeroDivisionError: division by zero"


def test_summary_of_an_html_page_is_its_heading_not_its_footer() -> None:
    page = (b"<!DOCTYPE html><html><head><title>DisallowedHost at /</title></head><body>\n"
            b"<h1>DisallowedHost at /</h1>\n<pre>Invalid HTTP_HOST header</pre>\n"
            b"<p>You're seeing this error because you have DEBUG = True in your Django settings file.</p>\n"
            b"</body></html>")
    assert response(page, "text/html; charset=utf-8").summary() == "DisallowedHost at /"
    assert response(page, None).summary() == "DisallowedHost at /"


def test_summary_of_json_is_compacted() -> None:
    body = b'{\n  "status": "unhealthy",\n  "checks": {\n    "db": "down"\n  }\n}\n'
    assert response(body, "application/json").summary() == '{"status": "unhealthy", "checks": {"db": "down"}}'
    assert response(b'{"broken": ', "application/json").summary() == '{"broken":'


def test_summary_of_an_empty_body() -> None:
    assert response(b"", "text/plain").summary() == "(empty body)"
    assert response(b"", None).summary() == "(empty body)"
