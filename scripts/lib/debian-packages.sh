# shellcheck shell=bash
# ensure_debian_packages <why> <pkg>...: installs the Debian packages that are missing.
# As root it runs apt-get; otherwise it stops with the exact command to run.
ensure_debian_packages() {
  local why=$1; shift
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "error: $why needs: ${missing[*]} (Debian package names); install them with your package manager" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $why needs Debian packages that are not installed. Run:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
  echo "[install] apt-get install ${missing[*]} ($why)"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists at all; refresh once, only when installing.
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
