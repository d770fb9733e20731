#!/usr/bin/env bash
# `make bench`: installs the peers prod-entry is measured against (tini and curl from Debian; dumb-init,
# django-webserver and matplotlib from PyPI), then runs every figure. Arguments go to bench/run.py
# (--smoke, --only 1,4, --out DIR). Results: bench/results/latest.{json,md} and figN.png.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in tini curl util-linux procps python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "bench.sh: installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The same virtualenv as the tests (on Debian's Python), so both measure the same interpreter.
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[bench]'

exec .venv/bin/python -m bench.run "$@"
