#!/usr/bin/env bash
# Build a local stand-in for the official python:3.11-slim-bookworm image, for machines that cannot pull
# images (the test machines). Debian bookworm minbase + its Python 3.11, imported into the engine at
# $DOCKER_HOST as NAME (default prod-entry-base:bookworm). The Dockerfile takes it as a build ARG:
#
#   scripts/docker-base-image.sh prod-entry-base:bookworm
#   DOCKER_BUILDKIT=0 docker build --network host --build-arg BASE_IMAGE=prod-entry-base:bookworm .
#
# This machine's CA certificates (/usr/local/share/ca-certificates/*.crt: a TLS-intercepting proxy stands
# between it and PyPI) are copied into the image so that pip works inside builds. They are written at boot and
# are never committed; the official image needs none of this. Does nothing when NAME already exists.
set -euo pipefail

name=${1:-prod-entry-base:bookworm}
if docker image inspect "$name" >/dev/null 2>&1; then
    exit 0
fi
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /tmp/prod-entry-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "docker-base-image.sh: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

shopt -s nullglob
certs=(/usr/local/share/ca-certificates/*.crt)
if [ ${#certs[@]} -gt 0 ]; then
    cp "${certs[@]}" "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
fi
# What the official slim image also leaves out: apt lists and caches, docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$name" >/dev/null
echo "docker-base-image.sh: imported $name" >&2
