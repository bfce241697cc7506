#!/usr/bin/env bash
# Puts a mediasoup-worker binary where the mediasoup package looks for it
# (node_modules/mediasoup/worker/out/Release/mediasoup-worker), building it only when needed.
#
# Order: MEDIASOUP_WORKER_BIN given -> nothing to do; cached build for this mediasoup version
# and recipe -> copy; prebuilt download (mediasoup's normal path, needs GitHub) -> offline build.
# mediasoup's own postinstall is disabled in package.json (allowScripts) because, offline, it
# fails the whole npm install; this script replaces it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/scripts/mediasoup-worker"
# shellcheck source=../lib/debian-packages.sh
source "$ROOT/scripts/lib/debian-packages.sh"

PKG_DIR="$ROOT/node_modules/mediasoup"
TARGET="$PKG_DIR/worker/out/Release/mediasoup-worker"
log() { echo "[mediasoup-worker] $*"; }

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  [ -x "$MEDIASOUP_WORKER_BIN" ] || { echo "error: MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not an executable" >&2; exit 1; }
  log "using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"; exit 0
fi
[ -f "$PKG_DIR/package.json" ] || { echo "error: $PKG_DIR is missing; run npm install" >&2; exit 1; }

VERSION=$(node -p "require('$PKG_DIR/package.json').version")
# The cache key covers everything that shapes the binary: mediasoup's version and our recipe.
RECIPE=$(cd "$HERE" && find build.sh shims -type f | sort | xargs sha256sum | sha256sum | cut -c1-12)
CACHE_ROOT=${MEDIASOUP_WORKER_CACHE_DIR:-$ROOT/.cache/mediasoup-worker}
CACHE="$CACHE_ROOT/$VERSION-$RECIPE"
CACHED_BIN="$CACHE/mediasoup-worker"

# Libraries the Debian-built worker links against dynamically (pulled in by the -dev packages).
BUILD_PACKAGES=(g++ pkg-config python3 libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev
  libflatbuffers-dev flatbuffers-compiler liburing-dev)

try_prebuilt() {
  [ "${MEDIASOUP_WORKER_OFFLINE:-}" = 1 ] && return 1
  local kernel url tmp
  kernel=$(uname -r | cut -d. -f1)
  url="${MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL:-https://github.com/versatica/mediasoup/releases/download}/$VERSION/mediasoup-worker-$VERSION-linux-$(node -p process.arch)-kernel$kernel.tgz"
  tmp=$(mktemp -d)
  if curl -fsSL --connect-timeout 5 --max-time 120 "$url" | tar xz -C "$tmp" 2>/dev/null \
     && [ -x "$tmp/mediasoup-worker" ]; then
    mkdir -p "$CACHE" && mv "$tmp/mediasoup-worker" "$CACHED_BIN"
    rm -rf "$tmp"; log "downloaded prebuilt worker $VERSION"; return 0
  fi
  rm -rf "$tmp"; log "no prebuilt worker reachable ($url); building offline"; return 1
}

build_offline() {
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then BUILD_PACKAGES+=(python3-venv); fi
  ensure_debian_packages "building mediasoup-worker" "${BUILD_PACKAGES[@]}"
  local work="$CACHE_ROOT/build" logf="$CACHE_ROOT/build.log" start=$SECONDS
  mkdir -p "$CACHE_ROOT"
  log "building mediasoup-worker $VERSION from source (a few minutes; log: $logf)"
  if ! "$HERE/build.sh" "$PKG_DIR" "$work" "$CACHED_BIN" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2; echo "error: mediasoup-worker build failed (full log: $logf)" >&2; exit 1
  fi
  rm -rf "$work/worker"   # keep the venv for the next rebuild, drop the 100+ MB build tree
  log "built in $((SECONDS - start)) s -> $CACHED_BIN"
}

if [ -x "$CACHED_BIN" ]; then
  log "cached worker $VERSION-$RECIPE"
else
  try_prebuilt || build_offline
fi
mkdir -p "$(dirname "$TARGET")"
cp "$CACHED_BIN" "$TARGET.tmp" && mv "$TARGET.tmp" "$TARGET"
log "installed $TARGET"
