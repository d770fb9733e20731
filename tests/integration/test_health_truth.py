"""Health that tells the truth, on a real project made by `django-admin startproject` (DEBUG off), run as
`prod-entry check web`, `prod-entry web` (real gunicorn) and `prod-entry healthcheck` against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from support import BIN, Reader, base_env, describe, free_port, one_error_line, output_of, run, spawn, wait_until

TOKEN = "s3cr3t-probe-token"

# Views added to the generated urls.py: `/` answers ROOT_STATUS when it is set (else Django's 404), and
# /private answers 200 only to `Authorization: Bearer TOKEN`, noting the serving process's pid and the
# User-Agent (the warmup's or the probe's) in SEEN_FILE.
VIEWS = f'''
import os
from django.http import HttpResponse


def root(request):
    return HttpResponse("root", status=int(os.environ["ROOT_STATUS"]))


def private(request):
    if request.headers.get("Authorization") != "Bearer {TOKEN}":
        return HttpResponse("who are you?", status=401)
    with open(os.environ["SEEN_FILE"], "a") as seen:
        seen.write(f"{{os.getpid()}} {{request.headers.get('User-Agent')}}\\n")
    return HttpResponse("ok")


urlpatterns += [path("private", private)]
if os.environ.get("ROOT_STATUS"):
    urlpatterns += [path("", root)]
'''


def startproject(where: Path, allowed_hosts: list[str]) -> Path:
    """`django-admin startproject mysite .` in `where`, then what a first deployment changes: DEBUG = False,
    ALLOWED_HOSTS, and prod-entry's management commands installed."""
    where.mkdir(exist_ok=True)
    made = subprocess.run([str(BIN / "django-admin"), "startproject", "mysite", "."], cwd=where, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, describe(made)
    settings = where / "mysite" / "settings.py"
    text = settings.read_text()
    for old, new in [("DEBUG = True", "DEBUG = False"), ("ALLOWED_HOSTS = []", f"ALLOWED_HOSTS = {allowed_hosts!r}"),
                     ("'django.contrib.staticfiles',", "'django.contrib.staticfiles',\n    'entrypoint',")]:
        assert old in text, f"startproject no longer writes {old!r}"
        text = text.replace(old, new)
    settings.write_text(text)
    with (where / "mysite" / "urls.py").open("a") as urls:
        urls.write(VIEWS)
    # Its SQLite database migrated, as a first deployment does (prod-entry's warmup refuses an unmigrated one).
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=where, capture_output=True,
                              text=True, timeout=120, env=base_env(DJANGO_SETTINGS_MODULE="mysite.settings"))
    assert migrated.returncode == 0, describe(migrated)
    return where


def project_env(where: Path, **extra: str) -> dict[str, str]:
    return base_env(DJANGO_SETTINGS_MODULE="mysite.settings", PORT=str(free_port()), SEEN_FILE=str(where / "seen"),
                    **extra)




def test_empty_allowed_hosts_with_debug_off_is_refused_before_any_request(tmp_path: Path) -> None:
    project = startproject(tmp_path, [])
    env = project_env(project)
    for args in (["check", "web"], ["web"]):
        proc = run(args, env, project)
        assert proc.returncode == 3, describe(proc)
        line = one_error_line(proc)
        assert "ALLOWED_HOSTS is empty in mysite.settings and DEBUG is off" in line, describe(proc)
        assert "'localhost'" in line and "PROD_ENTRY_WARMUP_HOST" in line, describe(proc)
        assert "GET /" not in line and "Listening at" not in proc.stdout + proc.stderr, describe(proc)


@pytest.mark.parametrize("status, code", [(400, 3), (401, 0), (403, 0), (404, 0), (200, 0)])
def test_the_default_check_fails_on_400_only(tmp_path: Path, status: int, code: int) -> None:
    project = startproject(tmp_path, ["localhost"])
    proc = run(["check", "web"], project_env(project, ROOT_STATUS=str(status)), project)
    assert proc.returncode == code, describe(proc)
    if code:
        assert "GET / (Host localhost) answered 400, expected 100-399,401-499" in one_error_line(proc), \
            describe(proc)


@pytest.mark.parametrize("variable", ["PROD_ENTRY_WARMUP_HOST", "PROD_ENTRY_PROCESS_WEB_WARMUP_HOST"])
def test_a_rejected_host_in_the_warmup_names_the_host_allowed_hosts_and_both_fixes(tmp_path: Path,
                                                                                   variable: str) -> None:
    project = startproject(tmp_path, ["example.com"])
    proc = run(["check", "web"], project_env(project, **{variable: "foo.org"}), project)
    assert proc.returncode == 3, describe(proc)
    line = one_error_line(proc)
    assert "GET / (Host foo.org) answered 400: Django refused the Host 'foo.org' (DisallowedHost)" in line, line
    assert "ALLOWED_HOSTS in mysite.settings is ['example.com']" in line, line
    assert f"add 'foo.org' to ALLOWED_HOSTS, or set {variable} to a host it lists" in line, line


def healthcheck(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run(["healthcheck", *args], env, project)


def test_the_probe_sends_the_warmups_host_and_says_when_django_refuses_one(tmp_path: Path) -> None:
    project = startproject(tmp_path, ["example.com"])
    env = project_env(project)
    port = env["PORT"]
    with spawn(["web"], env, project) as proc:
        wait_until(lambda: proc.poll() is not None or healthcheck(project, env).returncode == 0, 30,
                   what="the server to answer the probe")
        assert proc.poll() is None, output_of(proc)
        # `/` is Django's 404 with DEBUG off: healthy by default, with the Host ALLOWED_HOSTS accepts.
        probe = healthcheck(project, env)
        assert f"healthy: GET http://127.0.0.1:{port}/ answered 404 (Host example.com:{port})" in probe.stdout, \
            describe(probe)
        # --url /path: this process's bind; a URL named is a health URL, so 200 is expected.
        probe = healthcheck(project, env, "--url", "/admin/login/")
        assert probe.returncode == 0 and "/admin/login/ answered 200" in probe.stdout, describe(probe)
        probe = healthcheck(project, env, "--url", "/nope")
        assert probe.returncode == 1 and "answered 404, expected 200" in probe.stderr, describe(probe)
        # A full URL: its host is where to connect, not the Host header.
        probe = healthcheck(project, env, "--url", f"http://localhost:{port}/admin/login/")
        assert probe.returncode == 0 and f"answered 200 (Host example.com:{port})" in probe.stdout, describe(probe)
        probe = healthcheck(project, env, "--url", f"http://localhost:{port}/admin/login/", "--host", "api.internal")
        assert probe.returncode == 1, describe(probe)
        assert "answered 400: Django refused the Host 'api.internal' (DisallowedHost)" in probe.stderr, \
            describe(probe)
        assert "['example.com']" in probe.stderr and "or set --host to a host it lists" in probe.stderr, \
            describe(probe)
        probe = healthcheck(project, {**env, "PROD_ENTRY_WARMUP_HOST": "x.org"})
        assert probe.returncode == 1 and "add 'x.org' to ALLOWED_HOSTS, or set PROD_ENTRY_WARMUP_HOST" in \
            probe.stderr, describe(probe)
        assert len(probe.stderr.strip().splitlines()) == 1, describe(probe)


@pytest.mark.parametrize("backend", ["gunicorn", "uvicorn"])
def test_headers_from_a_secret_file_reach_the_warmup_every_worker_and_the_probe_masked(tmp_path: Path,
                                                                                      backend: str) -> None:
    project = startproject(tmp_path / "site", ["localhost"])
    secret = tmp_path / "headers"
    secret.write_text(f"Authorization: Bearer {TOKEN}; X-Probe: 1\n")
    env = project_env(project, PROD_ENTRY_HEALTHCHECK_URL="/private", PROD_ENTRY_WARMUP_HEADERS_FILE=str(secret),
                      PROD_ENTRY_PROCESS_WEB=backend)
    if backend == "uvicorn":
        env["PROD_ENTRY_PROCESS_WEB_APP"] = "mysite.asgi:application"
    with spawn(["web"], env, project) as proc:
        reader = Reader(proc)
        wait_until(lambda: proc.poll() is not None or healthcheck(project, env).returncode == 0, 30,
                   what="the server to answer the probe")
        assert proc.poll() is None, reader.finish()
        # gunicorn's workers replay the warmup; uvicorn's one process ran the warmup itself (handed over).
        output = reader.wait_for("warmed up" if backend == "gunicorn" else "warmup passed")
        probe = healthcheck(project, env)
        # The probe falls back to the warmup's headers, and prints their names only.
        assert "answered 200" in probe.stdout and "Authorization: ****, X-Probe: ****" in probe.stdout, \
            describe(probe)
        wrong = healthcheck(project, {**env, "PROD_ENTRY_HEALTHCHECK_HEADERS": "Authorization: Bearer wrong-one"})
        assert wrong.returncode == 1 and "answered 401, expected 200" in wrong.stderr, describe(wrong)
        # Each gunicorn worker (uvicorn's single process) sent the warmup's requests, with the headers, before it
        # served.
        def workers_warmed() -> bool:
            workers = {child.pid for child in psutil.Process(proc.pid).children()} if backend == "gunicorn" \
                else {proc.pid}
            lines = (project / "seen").read_text().splitlines()
            seen = {int(line.split()[0]) for line in lines if line.endswith(" prod-entry-warmup")}
            return bool(workers) and workers <= seen

        wait_until(workers_warmed, 30, what="every worker to replay /private with the headers")
    assert "warmup passed" in output and "headers Authorization: ****, X-Probe: ****" in output, output
    assert TOKEN not in output + probe.stdout + probe.stderr, output
    assert "wrong-one" not in wrong.stdout + wrong.stderr and "Authorization: ****" in wrong.stderr, describe(wrong)


def test_an_error_in_urls_py_is_reported_as_importing_root_urlconf(tmp_path: Path) -> None:
    project = startproject(tmp_path, ["localhost"])
    urls = project / "mysite" / "urls.py"
    urls.write_text(urls.read_text() + "oops_undefined\n")
    line_number = len(urls.read_text().splitlines())
    proc = run(["check", "web"], project_env(project), project)
    assert proc.returncode == 3, describe(proc)
    line = one_error_line(proc)
    assert ("importing ROOT_URLCONF (mysite.urls) failed: NameError: name 'oops_undefined' is not defined "
            f"(mysite/urls.py, line {line_number})") in line, line
    assert "django.setup()" not in line, line


def test_uvicorn_without_asgi_application_offers_asgi_py_and_interface_wsgi(tmp_path: Path) -> None:
    project = startproject(tmp_path, ["localhost"])
    env = project_env(project, PROD_ENTRY_PROCESS_WEB="uvicorn")
    proc = run(["check", "web"], env, project)
    assert proc.returncode == 2, describe(proc)
    line = one_error_line(proc)
    assert "ASGI_APPLICATION is not set in mysite.settings" in line, line
    assert "ASGI_APPLICATION = 'mysite.asgi.application'" in line and "mysite/asgi.py is there" in line, line
    assert "--interface wsgi in PROD_ENTRY_PROCESS_WEB_ARGS" in line and "cannot be derived" not in line, line
    # Each fix offered works.
    for fix in ({"PROD_ENTRY_PROCESS_WEB_APP": "mysite.asgi:application"},
                {"PROD_ENTRY_PROCESS_WEB_ARGS": "--interface wsgi"}):
        proc = run(["check", "web"], {**env, **fix}, project)
        assert proc.returncode == 0, describe(proc)


def test_manage_py_worker_list_without_workers_says_how_to_define_one(tmp_path: Path) -> None:
    project = startproject(tmp_path, ["localhost"])
    proc = subprocess.run([sys.executable, "manage.py", "worker", "--list"], cwd=project, env=project_env(project),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip() == ("no worker process is defined: define one in PRODUCTION_PROCESSES or with "
                                   "PROD_ENTRY_PROCESS_<NAME>=celery-worker (or rq, dramatiq, huey, django-tasks)"), \
        describe(proc)
