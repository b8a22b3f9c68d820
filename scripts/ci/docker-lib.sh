# shellcheck shell=bash
# Sourced by .ci/run and scripts/ci/with-docker.sh: a private Docker daemon for the container-backed
# test suites (spec/helpers/containers.ts), loopback only.
#
#   sentinel_docker_up     start dockerd in a temp dir, import the test images, export the env below;
#                          returns 1 (after saying why) when Docker cannot be used: the suites then
#                          run every service as a local process instead
#   sentinel_docker_down   remove test containers, stop dockerd, unmount, delete the temp dir (silent)
#
# The daemon: no bridge, no iptables, no IP forwarding (containers use the host's network namespace
# and bind 127.0.0.1 only), overlay2 with a vfs fallback, and HTTP(S)_PROXY pointed at a closed
# loopback port so an accidental image pull fails in milliseconds instead of reaching out.
# Exports: DOCKER_HOST, TESTCONTAINERS_RYUK_DISABLED=true (its image cannot be pulled),
# TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (/.dockerenv exists here; without it testcontainers looks
# for a bridge gateway), SENTINEL_TEST_BACKEND=container.

SENTINEL_DOCKER_DIR=
SENTINEL_DOCKERD_PID=

_sd_now() { date +%s.%N; }
_sd_secs() { awk -v a="$1" -v b="$(_sd_now)" 'BEGIN { printf "%.1f", b - a }'; }

_sd_start_dockerd() { # $1 = storage driver
  local w=$SENTINEL_DOCKER_DIR
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= http_proxy= https_proxy= no_proxy= \
    "$SENTINEL_DOCKERD_BIN" --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --storage-driver="$1" --data-root="$w/data-$1" --exec-root="$w/exec-$1" --pidfile="$w/dockerd.pid" \
    -H "unix://$w/docker.sock" >"$w/dockerd-$1.log" 2>&1 &
  SENTINEL_DOCKERD_PID=$!
  local _
  for _ in $(seq 1 300); do
    DOCKER_HOST="unix://$w/docker.sock" docker info >/dev/null 2>&1 && return 0
    kill -0 "$SENTINEL_DOCKERD_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

_sd_stop_dockerd() {
  local pid=$SENTINEL_DOCKERD_PID
  SENTINEL_DOCKERD_PID=
  [ -n "$pid" ] || return 0
  if kill -TERM "$pid" 2>/dev/null; then
    local _
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

_sd_unmount() {
  local m
  for m in "$SENTINEL_DOCKER_DIR"/exec-*/netns/default "$SENTINEL_DOCKER_DIR"/data-*/overlay2 "$SENTINEL_DOCKER_DIR"/data-*; do
    [ -e "$m" ] && umount "$m" 2>/dev/null || true
  done
}

sentinel_docker_up() {
  local t0 here why=
  t0=$(_sd_now)
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  SENTINEL_DOCKERD_BIN=${SENTINEL_DOCKERD_BIN:-$(command -v dockerd || echo /usr/sbin/dockerd)}
  if [ "$(id -u)" != 0 ]; then why="not root (a private dockerd needs root)"
  elif [ ! -x "$SENTINEL_DOCKERD_BIN" ]; then why="dockerd not installed (apt-get install --no-install-recommends docker.io)"
  elif ! command -v docker >/dev/null; then why="docker CLI not installed"
  fi
  if [ -n "$why" ]; then echo "docker: unavailable: $why; services run as local processes"; return 1; fi
  # short path: containerd's sockets live under the exec-root (108-byte socket path limit)
  SENTINEL_DOCKER_DIR=$(mktemp -d /tmp/sd.XXXXXX)
  local driver=overlay2
  if ! _sd_start_dockerd overlay2; then
    echo "docker: overlay2 failed ($(tail -1 "$SENTINEL_DOCKER_DIR/dockerd-overlay2.log")); trying vfs"
    _sd_stop_dockerd; _sd_unmount
    driver=vfs
    if ! _sd_start_dockerd vfs; then
      echo "docker: dockerd did not start; last lines of its log:"
      tail -5 "$SENTINEL_DOCKER_DIR/dockerd-vfs.log" | sed 's/^/  /'
      echo "docker: services run as local processes"
      sentinel_docker_down
      return 1
    fi
  fi
  export DOCKER_HOST="unix://$SENTINEL_DOCKER_DIR/docker.sock"
  echo "docker: private dockerd $(docker version -f '{{.Server.Version}}' 2>/dev/null) ($driver) up in $(_sd_secs "$t0")s at $DOCKER_HOST"
  if ! "$here/build-images.sh" redis mariadb node; then
    echo "docker: some images failed to build (see above); those services run as local processes"
  fi
  export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 SENTINEL_TEST_BACKEND=container
  SENTINEL_DOCKER_SETUP_SECS=$(_sd_secs "$t0")
  export SENTINEL_DOCKER_SETUP_SECS
  echo "docker: ready in ${SENTINEL_DOCKER_SETUP_SECS}s"
  return 0
}

sentinel_docker_down() {
  [ -n "$SENTINEL_DOCKER_DIR" ] || return 0
  local sock="unix://$SENTINEL_DOCKER_DIR/docker.sock"
  if [ -n "$SENTINEL_DOCKERD_PID" ]; then
    local label
    for label in org.testcontainers=true org.sentinel.test=true; do
      DOCKER_HOST=$sock docker ps -aq --filter "label=$label" 2>/dev/null | xargs -r env DOCKER_HOST="$sock" docker rm -f >/dev/null 2>&1 || true
    done
  fi
  _sd_stop_dockerd
  _sd_unmount
  rm -rf "$SENTINEL_DOCKER_DIR" 2>/dev/null || { _sd_unmount; rm -rf "$SENTINEL_DOCKER_DIR" 2>/dev/null || true; }
  SENTINEL_DOCKER_DIR=
  if [ "${DOCKER_HOST:-}" = "$sock" ]; then unset DOCKER_HOST SENTINEL_TEST_BACKEND; fi
}

# sentinel_netns_possible: true when this shell can re-run itself in a new network namespace that
# holds only "lo" (`unshare --net --fork CMD`, then `ip link set lo up` inside): root, unshare and ip.
# Everything run in there, dockerd and its host-network containers included, is loopback-only.
sentinel_netns_possible() {
  [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null \
    && unshare --net --fork ip link set lo up 2>/dev/null
}
