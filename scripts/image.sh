#!/usr/bin/env bash
# Build the observe image on this machine, with no registry for images: a local base, wheels built here.
#
#   ./scripts/image.sh            # tag observe/observe:dev (OBSERVE_IMAGE)
# The base comes from scripts/base-image.sh (debootstrap); the dependencies are wheels that pip builds or
# fetches on this host into build/wheels, so the build itself needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${OBSERVE_IMAGE:-observe/observe:dev}"
BASE="${OBSERVE_BASE_IMAGE:-observe-base/python:3.11}"

say() { printf 'image.sh: %s\n' "$*" >&2; }

OBSERVE_BASE_IMAGE="$BASE" ./scripts/base-image.sh
say "wheels into build/wheels"
python3 -m pip wheel --quiet --disable-pip-version-check -w build/wheels . "setuptools>=68" wheel "mypy>=1.15" \
  2> >(grep -v "^WARNING: Location" >&2)
say "building $TAG on $BASE"
# The host's network for the build stage: it installs a C compiler from Debian's archive to compile the log path.
DOCKER_BUILDKIT=0 docker build --quiet --network host --build-arg BASE="$BASE" \
  --build-arg PIP_OPTIONS="--no-index --find-links /src/build/wheels" -t "$TAG" . >/dev/null \
  2> >(grep -vE "DEPRECATED: The legacy builder|BuildKit is currently disabled|environment-variable|^$" >&2)
say "built $TAG ($(docker image inspect "$TAG" --format '{{.Size}}') bytes)"
