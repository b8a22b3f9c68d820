#!/usr/bin/env bash
# build-images.sh [redis] [mariadb] [node] : imports the local test images into the Docker daemon at
# $DOCKER_HOST, from this machine's own binaries (no registry is reachable, none is needed):
#   sentinel-test/redis:local    redis-server + redis-cli (Debian's redis-server package)
#   sentinel-test/mariadb:local  mariadbd with a data directory initialised at build time
#   sentinel-test/node:local     the node binary on PATH (Node >= 22.18: runs the TypeScript agents)
# An image whose binaries are missing is skipped with a message; the suites then run that service
# as a local process. Exit status: 0 if every requested image that could be built was built.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WANT=("$@"); [ ${#WANT[@]} -gt 0 ] || WANT=(redis mariadb node)
B=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-images.XXXXXX")
trap 'rm -rf "$B"' EXIT
ENVPATH='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
import_rootfs() { # $1 = rootfs dir, $2 = tag, rest = --change args
  local dir=$1 tag=$2; shift 2
  tar -C "$dir" -c . | docker import --change "$ENVPATH" "$@" - "$tag" >/dev/null
  echo "built $tag ($(du -sh "$dir" | cut -f1))"
}
build_one() { # $1 = image; output goes to $B/$1.out so parallel builds do not interleave
  local img=$1 t0
  t0=$(date +%s.%N)
  case "$img" in
    redis)
      if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then echo "skip sentinel-test/redis: redis-server/redis-cli not installed"; return 0; fi
      WITH_SH=1 "$HERE/mkrootfs.sh" "$B/redis" "$(command -v redis-server)" "$(command -v redis-cli)"
      import_rootfs "$B/redis" sentinel-test/redis:local --change 'WORKDIR /data' \
        --change 'CMD ["redis-server","--bind","127.0.0.1","--port","6379","--save","","--appendonly","no"]' || return 1
      ;;
    mariadb)
      local mariadbd
      mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
      if [ ! -x "$mariadbd" ] || ! command -v mariadb-install-db >/dev/null; then echo "skip sentinel-test/mariadb: mariadbd/mariadb-install-db not installed"; return 0; fi
      "$HERE/mkrootfs.sh" "$B/mariadb" "$mariadbd"
      mkdir -p "$B/mariadb/usr/share/mysql" "$B/mariadb/var/lib" "$B/mariadb/run/mysqld"
      cp -r /usr/share/mysql/english /usr/share/mysql/charsets "$B/mariadb/usr/share/mysql/"
      # The same data directory the local backend makes per server, made once here: root without
      # password over TCP, no test database, a small redo log (the layer stays small).
      if ! mariadb-install-db --no-defaults --datadir="$B/mariadb/var/lib/mysql" --auth-root-authentication-method=normal \
        --skip-test-db --user=root --innodb-log-file-size=4M >"$B/install-db.log" 2>&1; then
        echo "sentinel-test/mariadb: mariadb-install-db failed:"; tail -5 "$B/install-db.log"; return 1
      fi
      import_rootfs "$B/mariadb" sentinel-test/mariadb:local --change 'WORKDIR /var/lib/mysql' \
        --change 'CMD ["mariadbd","--no-defaults","--user=root","--datadir=/var/lib/mysql","--bind-address=127.0.0.1","--port=3306"]' || return 1
      ;;
    node)
      local node_bin
      node_bin=$(command -v node || true)
      if [ -z "$node_bin" ] || ! "$node_bin" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)'; then
        echo "skip sentinel-test/node: node on PATH is missing or older than 22.18 ($("${node_bin:-false}" --version 2>/dev/null))"; return 0
      fi
      "$HERE/mkrootfs.sh" "$B/node" "$node_bin=/usr/local/bin/node"
      import_rootfs "$B/node" sentinel-test/node:local --change 'WORKDIR /' --change 'CMD ["node"]' || return 1
      ;;
    *) echo "unknown image: $img (redis, mariadb, node)"; return 1 ;;
  esac
  awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$img" 'BEGIN { printf "  %s image: %.1fs\n", n, b - a }'
}
pids=()
for img in "${WANT[@]}"; do build_one "$img" >"$B/$img.out" 2>&1 & pids+=($!); done
rc=0
for i in "${!WANT[@]}"; do
  wait "${pids[$i]}" || { rc=1; echo "sentinel-test/${WANT[$i]}: build failed"; }
  cat "$B/${WANT[$i]}.out"
done
exit $rc
