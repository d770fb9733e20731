"""Static checks of the container files with the real tools, offline: hadolint on the Dockerfile, Compose v2's
own parser on docker-compose.yml, `helm lint --strict`, and every rendered manifest validated against the
Kubernetes schemas by kubernetes-validate --strict (unknown fields, wrong types, missing required fields)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # kubernetes-validate depends on PyYAML

from container_support import tool
from support import ROOT, describe

CHART = ROOT / "helm" / "prod-entry"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# Values sets the chart must render valid manifests for (the issue's list, plus secrets).
VALUES_SETS: dict[str, list[str]] = {
    "defaults": [],
    "worker-off": ["--set", "worker.enabled=false"],
    "hpa-on": ["--set", "web.autoscaling.enabled=true"],
    "httpget-probes": ["--set", "web.probes.type=httpGet"],
    "health-port": ["--set", "healthPort.enabled=true"],
    "secrets": ["--set-json", "secretEnv=" + json.dumps([{"name": "DJANGO_SECRET_KEY", "secretName": "app",
                                                          "key": "secret-key"}]),
                "--set-json", "secretFiles=" + json.dumps([
                    {"name": "DATABASE_URL", "secretName": "app", "key": "database-url"},
                    {"name": "CELERY_BROKER_URL", "secretName": "broker", "key": "url"}])],
}


def run(argv: list[str], input: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def helm() -> str:
    return tool("helm", "scripts/install-helm.sh (run by scripts/test.sh)")


def render(helm: str, *args: str) -> subprocess.CompletedProcess:
    return run([helm, "template", "r", str(CHART), *args])


def seconds(duration: str) -> int:
    """A Go duration as Compose prints it ("1m0s", "30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def manifests(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_hadolint_passes_the_dockerfile() -> None:
    proc = run([tool("hadolint"), "--failure-threshold", "info", "Dockerfile"])
    assert proc.returncode == 0, describe(proc)


def test_dockerfile_runtime_stage_has_what_the_issue_lists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime"):]
    for line in ('ENTRYPOINT ["prod-entry"]', 'CMD ["web"]', "STOPSIGNAL SIGTERM", "EXPOSE 8000",
                 'CMD ["prod-entry", "healthcheck"]', "USER 10001"):
        assert line in runtime, f"{line!r} missing from the runtime stage"
    assert "tini" not in runtime.lower(), "prod-entry is the init: no tini in the image"
    assert text.startswith("#") and "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text


@pytest.mark.parametrize("env_file", [ENV_EXAMPLE], ids=["env-example"])
def test_compose_v2_validates_the_compose_file(compose_v2: str, env_file: Path) -> None:
    proc = run([compose_v2, "-f", str(COMPOSE), "--env-file", str(env_file),
                "config", "-q"])
    assert proc.returncode == 0, describe(proc)


def test_compose_demands_the_secrets_from_env(compose_v2: str) -> None:
    """Without .env, Compose refuses to start and names the variable to set (no default passwords)."""
    proc = run([compose_v2, "-f", str(COMPOSE), "--env-file", "/dev/null", "config", "-q"])
    assert proc.returncode != 0 and "in .env (cp .env.example .env)" in proc.stderr, describe(proc)


def test_compose_file_wiring(compose_v2: str) -> None:
    """What `config -q` cannot see: migrate gates web and worker, every long-running service has a healthcheck,
    and the stop grace covers prod-entry's stop timeout."""
    proc = run([compose_v2, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config", "--format", "json"])
    assert proc.returncode == 0, describe(proc)
    services = json.loads(proc.stdout)["services"]
    assert set(services) == {"web", "worker", "migrate", "db", "broker"}
    assert services["migrate"]["command"] == ["manage", "migrate", "--noinput"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        grace = seconds(services[name]["stop_grace_period"])
        env = services[name]["environment"]
        budget = int(env["PROD_ENTRY_STOP_TIMEOUT"]) + int(env.get("PROD_ENTRY_SHUTDOWN_DELAY", "0"))
        assert budget < grace, f"{name}: stop timeout + delay ({budget}) must end inside stop_grace_period"
    for name in ("web", "worker", "db", "broker"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    assert services["web"]["healthcheck"]["test"][:3] == ["CMD", "prod-entry", "healthcheck"]
    assert services["db"]["image"].startswith("postgres:") and services["broker"]["image"].startswith("redis:")


def test_helm_lint_strict(helm: str) -> None:
    proc = run([helm, "lint", "--strict", str(CHART)])
    assert proc.returncode == 0, describe(proc)


@pytest.mark.parametrize("values", list(VALUES_SETS.values()), ids=list(VALUES_SETS))
def test_rendered_manifests_are_valid_kubernetes(helm: str, values: list[str]) -> None:
    rendered = render(helm, *values)
    assert rendered.returncode == 0, describe(rendered)
    proc = run([tool("kubernetes-validate"), "--strict", "-"], input=rendered.stdout)
    # An unknown apiVersion/kind is only a warning there: treat it as the failure it is.
    assert proc.returncode == 0 and "Couldn't find schema" not in proc.stdout + proc.stderr, describe(proc)


def test_chart_objects_and_their_wiring(helm: str) -> None:
    docs = manifests(render(helm, "--set", "web.autoscaling.enabled=true").stdout)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert kinds == {("ConfigMap", "r-prod-entry"), ("ServiceAccount", "r-prod-entry"),
                     ("Service", "r-prod-entry"), ("Deployment", "r-prod-entry-web"),
                     ("Deployment", "r-prod-entry-worker"), ("Job", "r-prod-entry-migrate"),
                     ("PodDisruptionBudget", "r-prod-entry-web"),
                     ("HorizontalPodAutoscaler", "r-prod-entry-web")}
    by_name = {d["metadata"]["name"] + "/" + d["kind"]: d for d in docs}
    config = by_name["r-prod-entry/ConfigMap"]["data"]
    assert config["PROD_ENTRY_PROCESS_WEB"] == "gunicorn" and config["PROD_ENTRY_PROCESS_WORKER"] == "celery-worker"

    job = by_name["r-prod-entry-migrate/Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["manage", "migrate", "--noinput"]
    web = by_name["r-prod-entry-web/Deployment"]
    assert "replicas" not in web["spec"], "with the HPA on, the Deployment must not fight it over replicas"

    for name in ("r-prod-entry-web", "r-prod-entry-worker", "r-prod-entry-migrate"):
        kind = "Job" if name.endswith("migrate") else "Deployment"
        pod = by_name[f"{name}/{kind}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # prod-entry's state dir (/tmp/prod-entry) must be writable on the read-only root.
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name
        if kind == "Deployment":
            env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
            budget = int(env["PROD_ENTRY_SHUTDOWN_DELAY"]) + int(env["PROD_ENTRY_STOP_TIMEOUT"])
            assert pod["terminationGracePeriodSeconds"] > budget, name
    # The migrate hook runs before the ConfigMap exists: it carries the same environment inline.
    job_env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {k: v for k, v in job_env.items() if k in config} == config


def test_probes_are_selectable(helm: str) -> None:
    def web_container(*args: str) -> dict:
        docs = manifests(render(helm, *args).stdout)
        web = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-web"))
        return web["spec"]["template"]["spec"]["containers"][0]

    exec_probe = web_container()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert exec_probe[probe]["exec"]["command"][:2] == ["prod-entry", "healthcheck"]
    http_probe = web_container("--set", "web.probes.type=httpGet", "--set", "web.healthPath=/ready")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert http_probe[probe]["httpGet"] == {"path": "/ready", "port": "http"}

    worker = next(d for d in manifests(render(helm).stdout)
                  if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-worker"))
    command = worker["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]
    assert command[:3] == ["prod-entry", "healthcheck", "worker"] and "--file" in command and "--max-age" in command


def test_the_health_port_takes_every_probe(helm: str) -> None:
    """healthPort.enabled: the supervisor's /ready and /live, over httpGet, for web and worker alike."""
    docs = manifests(render(helm, "--set", "healthPort.enabled=true", "--set", "healthPort.port=9090").stdout)
    for component in ("web", "worker"):
        deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(component))
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "health", "containerPort": 9090, "protocol": "TCP"} in container["ports"], component
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["PROD_ENTRY_HEALTH_PORT"] == "9090", component
        probes = {probe: container[probe]["httpGet"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert probes == {"startupProbe": {"path": "/ready", "port": "health"},
                          "readinessProbe": {"path": "/ready", "port": "health"},
                          "livenessProbe": {"path": "/live", "port": "health"}}, component
    service = next(d for d in docs if d["kind"] == "Service")
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]  # probes only, never served


def test_secret_files_follow_the_file_convention(helm: str) -> None:
    docs = manifests(render(helm, *VALUES_SETS["secrets"]).stdout)
    web = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-web"))
    pod = web["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["DJANGO_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "app", "key": "secret-key"}
    assert env["DATABASE_URL_FILE"]["value"] == "/run/secrets/app/database-url"
    assert env["CELERY_BROKER_URL_FILE"]["value"] == "/run/secrets/broker/url"
    assert sorted(v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v) == ["app", "broker"]
    # prod-entry reads X from X_FILE for the names listed here, whatever they look like.
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["PROD_ENTRY_SECRET_FILES"] == "DATABASE_URL,CELERY_BROKER_URL"


@pytest.mark.parametrize("values, message", [
    (["--set", "web.replicaz=3"], "replicaz"),
    (["--set", "web.probes.type=tcp"], "type"),
    (["--set", "web.terminationGracePeriodSeconds=10"], "terminationGracePeriodSeconds=10 is shorter"),
], ids=["misspelled-value", "unknown-probe-type", "grace-shorter-than-stop"])
def test_bad_values_fail_the_render_with_a_clear_message(helm: str, values: list[str], message: str) -> None:
    proc = render(helm, *values)
    assert proc.returncode != 0 and message in proc.stderr, describe(proc)


def test_notes_render(helm: str, tmp_path: Path) -> None:
    """NOTES.txt renders (`helm install --dry-run` needs a cluster here): a copy of the chart gets one more
    template that includes NOTES.txt as a YAML string."""
    chart = tmp_path / "prod-entry"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "notes-test.yaml").write_text(
        'notes: |\n{{ include "prod-entry/templates/NOTES.txt" . | indent 2 }}\n')
    for values in VALUES_SETS.values():
        proc = run([helm, "template", "r", str(chart), "--namespace", "shop", *values,
                    "--show-only", "templates/notes-test.yaml"])
        assert proc.returncode == 0, describe(proc)
        notes = yaml.safe_load(proc.stdout)["notes"]
        assert "kubectl --namespace shop" in notes, notes
        if "worker.enabled=false" not in values:
            assert "/tmp/prod-entry/heartbeat" in notes, notes
