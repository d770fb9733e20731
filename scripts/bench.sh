#!/usr/bin/env bash
# `make bench`: installs the peers prod-entry is measured against (tini, curl and HAProxy from Debian; dumb-init,
# django-webserver, matplotlib and Wagtail, the big project of figures 7 and 8, from PyPI), then runs every
# figure. Arguments go to bench/run.py (--smoke, --only 1,4, --runs N, --out DIR). Results: bench/results/latest.{json,md} and figN.png.
set -euo pipefail
cd "$(dirname "$0")/.."

# Figure 10 (a rolling restart behind HAProxy) adds HAProxy, a Docker engine and debootstrap (see scripts/test.sh).
bash scripts/apt-need.sh tini curl util-linux procps python3 python3-venv haproxy wrk docker.io debootstrap
# The same virtualenv as the tests (on Debian's Python), so both measure the same interpreter.
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[bench,bench-big]'

exec .venv/bin/python -m bench.run "$@"
