#!/usr/bin/env bash
# Build a local Python base image from Debian's packages, for machines that cannot pull one.
#
# The Dockerfile names python:3.11-slim for users; where no registry answers, this script makes
# an equivalent base with debootstrap (Debian bookworm, minbase, python3 and venv) and imports it:
#   ./scripts/base-image.sh && docker build --build-arg BASE=observe-base/python:3.11 .
# Does nothing when the image exists already. Needs root (debootstrap) and a Docker engine.
set -euo pipefail

IMAGE="${OBSERVE_BASE_IMAGE:-observe-base/python:3.11}"
SUITE="${OBSERVE_BASE_SUITE:-bookworm}"
MIRROR="${OBSERVE_BASE_MIRROR:-http://deb.debian.org/debian}"

say() { printf 'base-image.sh: %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE exists"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
say "debootstrap $SUITE into $root"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$root" "$MIRROR" \
  >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# What an image needs of a root filesystem and nothing more: no package lists, caches or docs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
say "imported $IMAGE ($(docker image inspect "$IMAGE" --format '{{.Size}}') bytes)"
