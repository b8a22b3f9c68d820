#!/usr/bin/env bash
# with-docker.sh [--netns] [--] COMMAND [ARGS...]
# Runs COMMAND with a private, loopback-only Docker daemon and the local test images (see
# docker-lib.sh), so the container-backed suites run in containers; removes everything afterwards.
# --netns: run dockerd and COMMAND in a fresh network namespace that has only "lo".
# If Docker cannot be started, says why and runs COMMAND anyway (services as local processes).
# Example: scripts/ci/with-docker.sh npx vitest run spec/ratelimit/redis.integration.test.ts
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=docker-lib.sh
. "$HERE/docker-lib.sh"
NETNS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --netns) NETNS=1; shift ;;
    --inner-netns) ip link set lo up; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--netns] [--] COMMAND [ARGS...]" >&2; exit 2; }
if [ "$NETNS" = 1 ]; then
  if sentinel_netns_possible; then exec unshare --net --fork "$0" --inner-netns -- "$@"; fi
  echo "docker: cannot create a network namespace (needs root and unshare); running without it"
fi
trap sentinel_docker_down EXIT
trap 'exit 130' INT TERM
sentinel_docker_up || true
"$@"
exit $?
