# deps.sh — the Debian 12 packages libselfbt needs and sbt_install_deps; sourced by setup.sh and .ci/run.
# shellcheck shell=bash
#
# gcc's OpenMP runtime (libgomp) comes with build-essential, so libomp-dev is not needed.
# CUDA is not installed here: the CUDA backend is built only where /usr/local/cuda exists.

SBT_APT_PACKAGES=(
  build-essential        # gcc, g++ (header checks), make, libc6-dev, libgomp
  cmake
  pkg-config
  binutils               # nm for the ABI test
  check                  # unit tests
  libsubunit-dev         # check's pkg-config file requires libsubunit
  libjansson-dev
  libcurl4-openssl-dev
  libssl-dev             # libcrypto: the sha256 check of hub downloads
  python3
  git
  ca-certificates
)

# Prints the packages of SBT_APT_PACKAGES that are not installed, one a line.
sbt_missing_deps() {
  local p
  for p in "${SBT_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

# sbt_install_deps [--always]: apt-get installs the missing packages. Without --always it
# does nothing when all are present; it never runs apt as a non-root user (it lists the
# packages instead). --always (CI) runs apt-get update + install even when all are there,
# but carries on if the update fails and nothing is missing.
sbt_install_deps() {
  local always=0 missing
  [ "${1:-}" = "--always" ] && always=1
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: not a Debian-like system; install the equivalents of: ${SBT_APT_PACKAGES[*]}" >&2
    return 0
  fi
  missing=$(sbt_missing_deps | tr '\n' ' ')
  if [ -z "$missing" ] && [ "$always" = 0 ]; then
    echo "deps: all packages present"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    if [ -n "$missing" ]; then
      echo "deps: missing packages (not root, so not installing): $missing" >&2
      echo "deps: run: sudo apt-get install -y --no-install-recommends $missing" >&2
    fi
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update; then
    if [ -n "$missing" ]; then
      echo "deps: apt-get update failed and packages are missing: $missing" >&2
      return 1
    fi
    echo "deps: apt-get update failed; all packages are present, going on" >&2
    return 0
  fi
  apt-get install -y --no-install-recommends "${SBT_APT_PACKAGES[@]}"
}
