#!/usr/bin/env bash
# One command: install dependencies, build, and run the test suite (ctest, 2 jobs) under Xvfb.
# Tests that need ../shared (models, references) skip with a message when it is absent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/packaging/install-deps.sh"
"$here/packaging/build.sh" "$@"
build=${LAYERLENS_BUILD_DIR:-$here/build}
cd "$build"
# The render tests must find lavapipe; GUI tests need an X server (Xvfb).
export LAYERLENS_EXPECT_LAVAPIPE=${LAYERLENS_EXPECT_LAVAPIPE:-1}
xvfb-run -a -s "-screen 0 1600x1000x24" \
  ctest --output-on-failure -j "${LAYERLENS_TEST_JOBS:-2}" -LE bench
