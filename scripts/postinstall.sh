#!/usr/bin/env bash
# Runs after `npm install` / `npm ci`: system tools from Debian, then the mediasoup worker.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/debian-packages.sh
source "$ROOT/scripts/lib/debian-packages.sh"

# FFmpeg turns RTP into HLS; Chromium runs the end-to-end tests (Playwright cannot download its
# own browsers offline); redis-server backs multi-instance deployments (REDIS_URL) and their
# tests; the openssl command makes the throwaway certificates of the HTTPS tests (slim images lack
# it). Set SKIP_SYSTEM_PACKAGES=1 to manage them yourself.
if [ "${SKIP_SYSTEM_PACKAGES:-}" != 1 ]; then
  ensure_debian_packages "livecast (HLS pipeline, browser, cluster and HTTPS tests)" ffmpeg chromium redis-server openssl
fi
"$ROOT/scripts/mediasoup-worker/install.sh"
