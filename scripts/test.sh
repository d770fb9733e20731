#!/usr/bin/env bash
# The test command (README's quick start): installs everything the tests need, then runs them all.
# Works on a fresh Debian bookworm machine as root; CI runs it with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: redis-server (celery worker tests), util-linux (unshare), procps, and Debian's own
# Python with venv: the tests drop privileges to other users, who must be able to run the interpreter
# (a pyenv Python under /root is unreadable to them, as it would never be in a container). tini and curl:
# the peers of the bench's smoke run (tests/integration/test_bench_smoke.py).
APT_PACKAGES=(redis-server util-linux procps python3 python3-venv tini curl)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages, in the project's own virtualenv, on /usr/bin/python3.
if [ "$(readlink -f .venv/bin/python 2>/dev/null)" != "$(readlink -f /usr/bin/python3)" ]; then
    rm -rf .venv
    /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

# Static types first: the package ships py.typed, so its hints must hold.
.venv/bin/python -m mypy entrypoint bench

exec .venv/bin/python -m pytest "$@"
