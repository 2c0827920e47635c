#!/usr/bin/env bash
# Make sure a Docker engine answers and the test images exist.
#
# Does nothing when an engine already answers on DOCKER_HOST (or the default socket).
# Otherwise installs Debian's docker.io and busybox-static (and the tools the tests use), starts dockerd with no bridge
# network (containers get no network, or --network host), and waits for it.
# Then imports the busybox test image from busybox-static when it is missing.
set -euo pipefail

IMAGE="${OBSERVE_TEST_IMAGE:-observe-test/busybox:1}"
LOG="${OBSERVE_DOCKERD_LOG:-/var/log/observe-dockerd.log}"

say() { printf 'engine.sh: %s\n' "$*" >&2; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

need_packages=()
command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_packages+=(busybox-static)
command -v promtool >/dev/null 2>&1 || need_packages+=(prometheus)
command -v tmux >/dev/null 2>&1 || need_packages+=(tmux)
command -v syslog-ng >/dev/null 2>&1 || need_packages+=(syslog-ng-core)
# The deploy tests: a Debian base image for the observe image, and the compose file run for real.
command -v debootstrap >/dev/null 2>&1 || need_packages+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || need_packages+=(docker-compose)
if [ ${#need_packages[@]} -gt 0 ]; then
  say "installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
  # Debian's prometheus package starts a service where systemd runs; we start our own in tests.
  pkill -x prometheus 2>/dev/null || true
  pkill -f prometheus-node-exporter 2>/dev/null || true
fi

if ! engine_answers; then
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local engine for a remote address"
    exit 1
  fi
  say "starting dockerd (log: $LOG)"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$LOG" 2>&1 &
  for _ in $(seq 1 120); do
    engine_answers && break
    sleep 0.5
  done
  engine_answers || { say "dockerd did not answer within 60 s; see $LOG"; tail -n 20 "$LOG" >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "building $IMAGE from busybox-static"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
fi
say "engine ready: $(docker version --format '{{.Server.Version}}'), image $IMAGE"
