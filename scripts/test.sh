#!/usr/bin/env bash
# The test command (README's quick start): installs everything the tests need, then runs them all.
# Works on a fresh Debian bookworm machine as root; CI runs it with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: redis-server (celery worker tests), util-linux (unshare), procps.
APT_PACKAGES=(redis-server util-linux procps)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages, in the project's own virtualenv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

# Redis must not be running as a system service: the tests start their own on free ports.
exec .venv/bin/python -m pytest "$@"
