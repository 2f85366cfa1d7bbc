#!/usr/bin/env bash
# One command: install dependencies, build, and run the test suite (ctest, 2 jobs) under Xvfb.
# Tests that need ../shared (models, references) skip with a message when it is absent.
# Also builds the CPU-only configuration (no CUDA, no Qt; with clang) and runs the libFuzzer
# targets for a bounded time (LAYERLENS_SKIP_FUZZ=1 skips that stage).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/packaging/install-deps.sh"
"$here/packaging/build.sh" "$@"
build=${LAYERLENS_BUILD_DIR:-$here/build}
jobs=${LAYERLENS_JOBS:-$(nproc)}

if [ "${LAYERLENS_SKIP_FUZZ:-0}" != 1 ]; then
  fuzz=${LAYERLENS_FUZZ_BUILD_DIR:-$here/build-fuzz}
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here}
  CC=clang CXX=clang++ cmake -S "$here" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLAYERLENS_GUI=OFF -DLAYERLENS_CUDA=OFF -DLAYERLENS_FUZZ=ON -DLAYERLENS_BENCH=OFF
  cmake --build "$fuzz" -j "$jobs" --target layerlens-cli fuzz_seeds fuzz_gguf fuzz_safetensors \
    fuzz_tokenizer_json
  (cd "$fuzz" && ctest --output-on-failure -L fuzz)
fi

cd "$build"
# The render tests must find lavapipe; GUI tests need an X server (Xvfb).
export LAYERLENS_EXPECT_LAVAPIPE=${LAYERLENS_EXPECT_LAVAPIPE:-1}
xvfb-run -a -s "-screen 0 1600x1000x24" \
  ctest --output-on-failure -j "${LAYERLENS_TEST_JOBS:-2}" -LE "bench|fuzz"
