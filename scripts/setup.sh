#!/usr/bin/env bash
# setup.sh — installs the build dependencies (when root) and configures + builds libselfbt into build/.
#
# Usage: ./scripts/setup.sh [extra cmake arguments, e.g. -DSELFBT_CUDA=OFF]
# Environment: BUILD_DIR (default build), JOBS (default 2), CMAKE_BUILD_TYPE (default Release).
# Then test with: ctest --test-dir build --output-on-failure -j2
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

sbt_install_deps ${SBT_DEPS_ALWAYS:+--always}

build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" "$@"
cmake --build "$build_dir" -j"${JOBS:-2}"
echo "setup: built into $build_dir/; run the tests with: ctest --test-dir $build_dir --output-on-failure -j2"
