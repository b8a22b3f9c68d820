#!/usr/bin/env bash
# mkrootfs.sh DIR BINARY... : a minimal root filesystem holding each BINARY (dereferenced, at the
# same path) and every shared library ldd lists for it, plus a minimal /etc. No package manager, no
# registry: the test images are built from the host's own binaries (see build-images.sh).
# WITH_SH=1 adds dash as /bin/sh (for `docker exec sh -c` and testcontainers' command waits).
set -euo pipefail
R=$1; shift
rm -rf "$R"; mkdir -p "$R"/{etc,tmp,data,run,usr/bin,usr/local/bin,lib64}; chmod 1777 "$R/tmp"
copy_with_libs() { # $1 = source binary, $2 = path inside the rootfs
  install -D -m 0755 "$(readlink -f "$1")" "$R$2"
  local lib
  for lib in $(ldd "$1" | grep -oE '/[^ ]+'); do mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; done
}
for b in "$@"; do
  # SRC=DEST installs SRC at DEST (e.g. a provisioned node at /usr/local/bin/node)
  case "$b" in *=*) copy_with_libs "${b%%=*}" "${b#*=}" ;; *) copy_with_libs "$b" "$b" ;; esac
done
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
printf 'hosts: files dns\n' > "$R/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$R/etc/hosts"
: > "$R/etc/resolv.conf"
if [ "${WITH_SH:-0}" = 1 ]; then mkdir -p "$R/bin"; copy_with_libs /bin/dash /bin/sh; fi
