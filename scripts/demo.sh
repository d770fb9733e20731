#!/usr/bin/env bash
# The demo (README's quick start): installs prod-entry and the example project's requirements, then serves
# the example app through prod-entry on its zero-config default (gunicorn, 0.0.0.0:${PORT:-8000}).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e . -r example/requirements.txt
cd example
export DJANGO_SETTINGS_MODULE=example.settings
echo "demo: serving the example app on http://127.0.0.1:${PORT:-8000}/healthz (Ctrl-C stops it)"
exec ../.venv/bin/prod-entry
