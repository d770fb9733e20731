"""Pure parts of warmup and probes: settings parsing, host derivation, wait-for targets, the probe's argument
parser, and the in-memory WSGI/ASGI client driven against small real apps."""

from __future__ import annotations

import io

import pytest

from entrypoint.health import probes
from entrypoint.health import rules as health
from entrypoint.release import waitfor
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError, WaitTimeout
from entrypoint.warmup.appclient import AsgiClient, Target, wsgi_environ, wsgi_get


def web(**settings: str) -> Process:
    return Process("web", "gunicorn", [], None, {}, settings)


@pytest.mark.parametrize("text, ranges", [
    ("200", ((200, 200),)),
    ("200,204", ((200, 200), (204, 204))),
    ("200-399", ((200, 399),)),
    ("200, 301-302", ((200, 200), (301, 302))),
])
def test_statuses(text: str, ranges: tuple) -> None:
    assert health.parse_statuses(text, "V") == ranges


@pytest.mark.parametrize("text", ["", "ok", "99", "600", "399-200", "2OO", "200-"])
def test_bad_statuses_name_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="PROD_ENTRY_HEALTHCHECK_STATUS"):
        health.parse_statuses(text, "PROD_ENTRY_HEALTHCHECK_STATUS")


@pytest.mark.parametrize("allowed, host", [
    (["*"], "localhost"), ([], "localhost"), (None, "localhost"), ([".example.com"], "example.com"),
    (["api.example.com", "x"], "api.example.com"),
])
def test_host_from_allowed_hosts(allowed: object, host: str) -> None:
    assert health.host_from_allowed_hosts(allowed) == host


def test_default_health_check_accepts_any_answer_below_500_but_400() -> None:
    check = health.health_check(web(), {})
    assert check.path == "/" and not check.passes(500)
    # API-only and login-only sites answer / with these: the app loaded and served.
    assert all(check.passes(status) for status in (200, 204, 301, 302, 401, 403, 404, 405))
    # A plain GET is never a bad request: 400 means the app refused the request itself (its Host, mostly).
    assert not check.passes(400) and "400 excepted" in check.setting
    assert not health.warmup_checks(web(), {"PROD_ENTRY_WARMUP_URLS": "/a"})[1].passes(400)


@pytest.mark.parametrize("text", ["Authorization: Bearer abc.def; X-Probe: 1",
                                  "Authorization: Bearer abc.def\nX-Probe: 1\n",
                                  '{"Authorization": "Bearer abc.def", "X-Probe": "1"}'])
def test_header_settings_in_both_syntaxes(text: str) -> None:
    assert health.parse_headers(text, "V") == (("Authorization", "Bearer abc.def"), ("X-Probe", "1"))


def test_json_headers_may_hold_a_semicolon() -> None:
    assert health.parse_headers('{"Cookie": "a=1; b=2"}', "V") == (("Cookie", "a=1; b=2"),)


@pytest.mark.parametrize("text, message", [
    ("Authorization Bearer s3cr3t-value", "part 1 has no `:`"),
    ("Bad Name: s3cr3t-value", "'Bad Name' is not a header name"),
    ("X_Probe: s3cr3t-value", "with - instead of _"),
    ("Host: s3cr3t-value", "PROD_ENTRY_WARMUP_HOST"),
    ('{"Authorization": 5}', "not an object of strings"),
    ("{s3cr3t-value", "not a JSON object"),
])
def test_bad_header_settings_name_the_variable_never_the_value(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="PROD_ENTRY_WARMUP_HEADERS") as caught:
        health.headers(web(), {"PROD_ENTRY_WARMUP_HEADERS": text}, "WARMUP_HEADERS")
    assert message in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_probe_headers_fall_back_to_the_warmup_headers() -> None:
    env = {"PROD_ENTRY_WARMUP_HEADERS": "A: 1"}
    assert health.headers(web(), env, "HEALTHCHECK_HEADERS", "WARMUP_HEADERS") == (("A", "1"),)
    assert health.headers(web(HEALTHCHECK_HEADERS="B: 2"), env, "HEALTHCHECK_HEADERS", "WARMUP_HEADERS") == \
        (("B", "2"),)
    assert health.shown_headers((("Authorization", "Bearer x"),)) == "Authorization: ****"


def test_headers_reach_wsgi_and_asgi_requests() -> None:
    target = Target("h", 80, "http", (("Authorization", "Bearer x"), ("Content-Type", "text/plain")))
    environ = wsgi_environ("/", target)
    assert environ["HTTP_AUTHORIZATION"] == "Bearer x" and environ["CONTENT_TYPE"] == "text/plain"
    seen: list = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.extend(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    client = AsgiClient(app)
    try:
        assert client.get("/", target).status == 204
    finally:
        client.loop.close()
    assert (b"authorization", b"Bearer x") in seen


HOSTS = ["localhost", "localhost:8000", "LOCALHOST", "example.com", "www.example.com", "example.com.", "evil.com",
         "127.0.0.1:80", "[::1]:8000", "[::1]", "sub.localhost", "api.internal:8000"]
ALLOWED = [[], ["*"], ["example.com"], [".example.com"], ["localhost", "127.0.0.1"], ["api.internal"]]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("allowed", ALLOWED, ids=str)
def test_host_allowed_agrees_with_djangos_own_validate_host(allowed: list, debug: bool) -> None:
    """The probe judges a 400 without Django loaded; Django's validate_host is the reference."""
    from django.http.request import split_domain_port, validate_host

    effective = allowed or ([".localhost", "127.0.0.1", "[::1]"] if debug else [])
    for host in HOSTS:
        domain, _ = split_domain_port(host)
        assert health.host_allowed(host, allowed, debug) == bool(domain and validate_host(domain, effective)), host


def test_disallowed_host_line_names_the_host_the_setting_and_both_fixes() -> None:
    line = health.disallowed_host("foo.org:8000", ["example.com"], "mysite.settings", "PROD_ENTRY_WARMUP_HOST")
    assert "'foo.org:8000'" in line and "['example.com']" in line and "mysite.settings" in line
    assert "add 'foo.org' to ALLOWED_HOSTS" in line and "PROD_ENTRY_WARMUP_HOST" in line
    empty = health.disallowed_host("localhost", [], "mysite.settings", "PROD_ENTRY_WARMUP_HOST")
    assert "ALLOWED_HOSTS is empty" in empty and "DEBUG is off" in empty and "PROD_ENTRY_WARMUP_HOST" in empty


def test_health_url_expects_200_unless_statuses_are_given() -> None:
    check = health.health_check(web(), {"PROD_ENTRY_HEALTHCHECK_URL": "/healthz"})
    assert check.passes(200) and not check.passes(204)
    check = health.health_check(web(HEALTHCHECK_STATUS="200-299"), {"PROD_ENTRY_HEALTHCHECK_URL": "/healthz"})
    assert check.passes(204) and check.setting == "PROD_ENTRY_PROCESS_WEB_HEALTHCHECK_STATUS"


def test_per_process_setting_wins() -> None:
    env = {"PROD_ENTRY_HEALTHCHECK_URL": "/global"}
    assert health.health_check(web(HEALTHCHECK_URL="/mine"), env).path == "/mine"


def test_warmup_urls_follow_the_health_check() -> None:
    checks = health.warmup_checks(web(), {"PROD_ENTRY_WARMUP_URLS": "/a, /b?x=1 http://h/c"})
    assert [c.path for c in checks] == ["/", "/a", "/b?x=1", "/c"]
    with pytest.raises(ConfigError, match="PROD_ENTRY_WARMUP_URLS"):
        health.warmup_checks(web(), {"PROD_ENTRY_WARMUP_URLS": "nope"})


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_timeout(value: str) -> None:
    with pytest.raises(ConfigError, match="PROD_ENTRY_WARMUP_TIMEOUT"):
        health.seconds(web(), {"PROD_ENTRY_WARMUP_TIMEOUT": value}, "WARMUP_TIMEOUT", 30)


def test_flag() -> None:
    assert health.flag(web(), {"PROD_ENTRY_WARMUP": "0"}, "WARMUP", True) is False
    assert health.flag(web(WARMUP="yes"), {"PROD_ENTRY_WARMUP": "0"}, "WARMUP", False) is True
    with pytest.raises(ConfigError, match="PROD_ENTRY_PROCESS_WEB_WARMUP"):
        health.flag(web(WARMUP="maybe"), {}, "WARMUP", True)


def test_wait_for_targets_drop_credentials() -> None:
    text = "db:5432, postgres://user:s3cret@pg.internal/app redis://:pw@cache:6380/0 [::1]:9000"
    assert waitfor.targets(text, "V") == [("db", 5432), ("pg.internal", 5432), ("cache", 6380), ("::1", 9000)]


@pytest.mark.parametrize("text", ["db", "db:port", "foo://host/x", ":5432"])
def test_bad_wait_for(text: str) -> None:
    with pytest.raises(ConfigError, match="PROD_ENTRY_WAIT_FOR"):
        waitfor.targets(text, "PROD_ENTRY_WAIT_FOR")


def test_wait_for_times_out_with_progress_lines() -> None:
    now = [0.0]
    lines: list[str] = []
    # A fake clock is the only seam; the connection attempts are real (nothing listens on loopback port 9).
    with pytest.raises(WaitTimeout, match=r"127.0.0.1:9 still not accepting connections after 12s"):
        waitfor.wait(None, {"PROD_ENTRY_WAIT_FOR": "127.0.0.1:9", "PROD_ENTRY_WAIT_TIMEOUT": "12"},
                     lines.append, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert len(lines) == 3 and all("waiting for 127.0.0.1:9" in line for line in lines)


def test_probe_arguments() -> None:
    assert probes.parse(["worker", "--file", "/f", "--max-age=30"]) == ("worker", {"--file": "/f", "--max-age": "30"})
    with pytest.raises(probes.Unhealthy):
        probes.parse(["--bogus"])
    with pytest.raises(probes.Unhealthy):
        probes.parse(["--url"])
    assert probes.parse(["--url", "/ready", "--host=api.internal"]) == \
        (None, {"--url": "/ready", "--host": "api.internal"})


def test_wsgi_environ_is_complete() -> None:
    environ = wsgi_environ("/caf%C3%A9?x=1", Target("example.com", 8000))
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "HTTP_HOST", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors",
                "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        assert key in environ
    assert environ["PATH_INFO"] == "/caf\xc3\xa9" and environ["QUERY_STRING"] == "x=1"
    assert isinstance(environ["wsgi.input"], io.BytesIO)


def test_wsgi_get_iterates_and_closes() -> None:
    closed = []

    class Body:
        def __iter__(self):
            yield b"a"
            yield b"b"

        def close(self) -> None:
            closed.append(True)

    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/html")])
        return Body()

    response = wsgi_get(app, "/", Target("h", 80))
    assert (response.status, response.body, closed) == (404, b"ab", [True])


def test_asgi_client_runs_lifespan_around_requests() -> None:
    events: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "up"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"]["db"].encode()})

    client = AsgiClient(app)
    client.start()
    response = client.get("/", Target("h", 80))
    client.stop()
    assert (response.status, response.body) == (200, b"up")
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_asgi_client_without_lifespan_support() -> None:
    async def app(scope, receive, send):
        if scope["type"] != "http":
            raise ValueError("no lifespan here")  # what Django's ASGIHandler does
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = AsgiClient(app)
    client.start()
    assert client.get("/", Target("h", 80)).status == 204
    client.stop()


def test_a_plan_handed_over_to_the_server_comes_back_whole_and_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from entrypoint.warmup import gate as warmup

    plan = warmup.Plan("example.wsgi:application", "wsgi", True, False,
                       [health.Check("/healthz", ((200, 200), (204, 299)), "PROD_ENTRY_HEALTHCHECK_STATUS")],
                       "example.com", 8000, 2.5, "PROD_ENTRY_WARMUP_TIMEOUT", (("Authorization", "Bearer x"),),
                       "PROD_ENTRY_PROCESS_WEB_WARMUP_HOST")
    monkeypatch.delenv(warmup.HANDOVER_VAR, raising=False)
    warmup.hand_over(plan, workers=True)
    assert warmup.handed_over() == (plan, True)
    assert warmup.handed_over() is None


@pytest.mark.parametrize("answers, outcome", [
    ([200], "http"),
    ([301, 200], "https"),  # a redirect to https: the same request again, as https
    ([404], "answered 404, expected 200 (PROD_ENTRY_HEALTHCHECK_STATUS): (empty body)"),
    ([301, 500], "answered 500, expected 200"),
])
def test_the_sync_and_async_checks_apply_the_same_rules(answers: list[int], outcome: str) -> None:
    """The request phase under uvicorn's loop (check_one_async) and everywhere else (check_one) alike."""
    import asyncio
    from typing import Any

    from entrypoint.settings.errors import WarmupError
    from entrypoint.warmup import gate as warmup
    from entrypoint.warmup.appclient import Response

    check = health.Check("/healthz", ((200, 200),), "PROD_ENTRY_HEALTHCHECK_STATUS")
    start = Target("localhost", 80)

    def responses() -> Any:
        pending = list(answers)
        return lambda path, target: Response(pending.pop(0), [("Location", "https://localhost/healthz")], b"")

    results = []
    sync_get, async_get = responses(), responses()

    async def get(path: str, target: Target) -> Response:
        return async_get(path, target)

    for run in (lambda: warmup.check_one(sync_get, check, start, lambda _: None, []),
                lambda: asyncio.run(warmup.check_one_async(get, check, start, lambda _: None, []))):
        try:
            results.append(run().scheme)
        except WarmupError as exc:
            results.append(str(exc))
    assert results[0] == results[1] and outcome in results[0], results


def test_once_stopped_the_warmup_keeps_no_later_requests_exception() -> None:
    """The process that warmed up goes on to serve (uvicorn), or forks the workers that do (gunicorn)."""
    import logging

    from django.core.signals import got_request_exception

    from entrypoint.warmup import gate as warmup

    failures = warmup.Failures()
    got_request_exception.connect(failures.record, weak=False)
    failures.watch_hosts()
    rejected = logging.getLogger("django.security.DisallowedHost")

    def fail() -> None:
        try:
            raise RuntimeError("a view failed")
        except RuntimeError:
            got_request_exception.send(sender=None)
            rejected.error("Invalid HTTP_HOST header", exc_info=True)

    fail()
    assert [str(exc) for exc in failures] == ["a view failed"] * 2
    failures.stop()
    fail()
    assert failures == []
