#!/usr/bin/env bash
# Builds the container image of logto-actix from scratch (no base image): the release binary, the
# shared libraries it links and the dynamic loader, the CA certificates, a non-root user, and nothing
# else. Templates and the stylesheet are compiled into the binary, so no other file is needed.
#
#   deploy/build-image.sh                          # cargo build --release, then the image logto-actix:latest
#   IMAGE=registry.example.com/logto-actix:0.1.0 deploy/build-image.sh
#   BINARY=path/to/logto-actix deploy/build-image.sh   # package a binary built already (no cargo build)
#   CONTAINER_ENGINE=buildah deploy/build-image.sh     # or docker; default podman
#
# Needs: cargo (unless BINARY is set), ldd, the CA bundle at /etc/ssl/certs/ca-certificates.crt
# (Debian's ca-certificates), and podman, buildah or docker. Prints the image's id last.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-logto-actix:latest}
engine=${CONTAINER_ENGINE:-podman}
ca_bundle=/etc/ssl/certs/ca-certificates.crt
# The user the app runs as: a number, so it needs no lookup and no home directory.
uid=10001

die() {
  echo "build-image: $*" >&2
  exit 1
}

command -v "$engine" >/dev/null || die "$engine is not installed (apt-get install podman), or set CONTAINER_ENGINE"
command -v ldd >/dev/null || die "ldd is not installed (apt-get install libc-bin)"
[ -r "$ca_bundle" ] || die "$ca_bundle is missing (apt-get install ca-certificates)"

if [ -z "${BINARY:-}" ]; then
  cargo build --release --locked --bin logto-actix >&2
  BINARY=${CARGO_TARGET_DIR:-target}/release/logto-actix
fi
[ -x "$BINARY" ] || die "$BINARY is not an executable"

umask 022
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root=$context/rootfs

install -D -m 0755 "$BINARY" "$root/usr/local/bin/logto-actix"

# Each library ldd resolves ("name => /path (addr)") and the loader ("/path (addr)"), copied to the
# same path (links followed), since that is where the loader and the binary look for them.
# linux-vdso has no file: the kernel maps it.
libraries=$(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libraries" ] || die "ldd found no libraries in $BINARY (a static binary needs none: remove this check)"
if ldd "$BINARY" | grep -q 'not found'; then
  die "$BINARY links a library that is not installed: $(ldd "$BINARY" | grep 'not found')"
fi
for library in $libraries; do
  install -D -m 0755 "$(readlink -f "$library")" "$root$library"
done

install -D -m 0644 "$ca_bundle" "$root$ca_bundle"

# The non-root user and its group, for tools that show names instead of numbers.
install -d -m 0755 "$root/etc"
echo "logto-actix:x:$uid:$uid:logto-actix:/nonexistent:/nonexistent" >"$root/etc/passwd"
echo "logto-actix:x:$uid:" >"$root/etc/group"

cp deploy/Containerfile "$context/Containerfile"
"$engine" build --file "$context/Containerfile" --tag "$image" --build-arg "UID=$uid" \
  --iidfile "$context/image-id" "$context" >&2
cat "$context/image-id"
echo
