#!/usr/bin/env bash
# `bash scripts/apt-need.sh PKG...`: install the Debian packages that are not installed yet (apt-get update
# only when something is missing), so repeated test and bench runs stay fast.
set -euo pipefail
missing=()
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "apt-need: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
