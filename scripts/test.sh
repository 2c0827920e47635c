#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: install, start the engine, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
./scripts/engine.sh
ruff check .
mypy
python3 -m pytest "$@"
