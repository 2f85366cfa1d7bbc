#!/usr/bin/env bash
# Builds the Debian package: a CPU-only Release build of the GUI and the CLI in build-deb/ (the CUDA
# backend needs nvcc to build and the CUDA toolkit's cuBLAS to run, which no Debian package
# provides), then CPack DEB.
# Prints the .deb's path. Installs the build packages first (packaging/install-deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/packaging/install-deps.sh"
build=${LAYERLENS_DEB_BUILD_DIR:-$here/build-deb}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAYERLENS_CUDA=OFF \
  -DLAYERLENS_TESTS=OFF -DLAYERLENS_BENCH=OFF -DLAYERLENS_NATIVE=OFF "$@"
cmake --build "$build" -j "${LAYERLENS_JOBS:-$(nproc)}"
(cd "$build" && cpack -G DEB >/dev/null)
ls "$build"/layerlens_*.deb
