#!/usr/bin/env bash
# Configures and builds LayerLens into build/ (or $LAYERLENS_BUILD_DIR) with ccache and ninja.
# Extra arguments go to cmake's configure step (e.g. -DLAYERLENS_CUDA=OFF).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LAYERLENS_BUILD_DIR:-$here/build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
jobs=${LAYERLENS_JOBS:-$(nproc)}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j "$jobs"
