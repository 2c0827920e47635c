#!/usr/bin/env bash
# Two checkouts' bench_run.py started together, round after round: on a shared machine whose speed drifts by
# tens of percent from one minute to the next, runs side by side see the same machine.
#
#   bench/side_by_side.sh OTHER_CHECKOUT ROUNDS [bench_run.py flags]
#   bench/side_by_side.sh /tmp/observe-f6a4ac1 3 --modes file
#
# Each checkout needs its own install of the compiled modules (python3 setup.py build_ext --inplace) and
# the corpus under its bench/out (a symbolic link to this checkout's does). One container each: two runs
# side by side take the two cores of a 2-core machine.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
other="$(cd "$1" && pwd)"
rounds="$2"
shift 2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
  (cd "$other" && python3 bench/bench_run.py --runs 1 --quiet 5 "$@" 2>&1 | grep "^run" | sed "s#^#$other: #") \
    >"$out/other" &
  (cd "$here" && python3 bench/bench_run.py --runs 1 --quiet 5 "$@" 2>&1 | grep "^run" | sed "s#^#$here: #") \
    >"$out/here"
  wait
  cat "$out/other" "$out/here"
done
