#!/usr/bin/env bash
# One command on the GPU machine (no Qt, no apt, no network): unpack the carried Debian packages
# (.carry/debs), build LayerLens with -DLAYERLENS_GUI=OFF -DLAYERLENS_CUDA=ON for sm_90 into
# build-gpu/, then run the requested steps. Logs go to $OUT (the device tool brings them back).
#   tests/bench/gpu/device_run.sh [prebuilt] [test] [sanitize] [parity] [opbench] [modelbench]
# test: tst_cuda_ops + tst_backend_ops (CPU and CUDA vs reference); sanitize: compute-sanitizer
# memcheck on tst_cuda_ops, racecheck on its attention cases; parity: ctest -L parity with
# LAYERLENS_TEST_BACKEND=cuda (LL_PARITY_MATHS, default "precise fast"; LL_PARITY_REGEX and
# LL_PARITY_EXCLUDE: ctest -R / -E); opbench: bench_cuda_ops; modelbench:
# tests/bench/gpu/model_bench.sh (engine vs PyTorch eager, Llama-3.2-1B shape).
# prebuilt: skip configure/build and reuse LL_BUILD from an earlier call on the same machine.
# LL_CARRY: folder holding debs/ and shared/ (default $ROOT/.carry; snapshot.sh builds from a
# clean HEAD copy in .carry/src so others' unfinished edits never reach the device).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${OUT:-/tmp/ll-out}
DEPS=${LL_DEPS:-/tmp/deps}
BUILD=${LL_BUILD:-$ROOT/build-gpu}
CARRY=${LL_CARRY:-$ROOT/.carry}
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(test)
mkdir -p "$OUT"
log() { echo "== $(date -u +%H:%M:%S) $*"; }

if [ ! -d "$DEPS/usr" ]; then
  for f in "$CARRY"/debs/*.deb; do dpkg -x "$f" "$DEPS"; done
fi
export CMAKE_PREFIX_PATH="$DEPS/usr"
export PKG_CONFIG_PATH="$DEPS/usr/lib/x86_64-linux-gnu/pkgconfig:$DEPS/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$DEPS"
export CPATH="$DEPS/usr/include${CPATH:+:$CPATH}"
export LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PKGCONF=$(command -v pkg-config || echo "$DEPS/usr/bin/pkgconf")
# The fixtures always live at one path (ctest keeps the configured one): a packed subset
# (carry_shared.sh main: shared.tar.xz) is unpacked there, a plain one linked.
SRC_SHARED=${LAYERLENS_SHARED_DIR:-$CARRY/shared}
SHARED=/tmp/ll-shared
rm -rf "$SHARED"
if [ -f "$SRC_SHARED/shared.tar.xz" ]; then
  mkdir -p "$SHARED" && python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
    "$SRC_SHARED/shared.tar.xz" "$SHARED" || { echo "unpacking the fixtures failed"; exit 1; }
else
  ln -s "$(cd "$SRC_SHARED" && pwd)" "$SHARED"
fi
export LAYERLENS_SHARED_DIR=$SHARED

log "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
export PATH=/usr/local/cuda/bin:$PATH
has() { [[ " ${STEPS[*]} " == *" $1 "* ]]; }
if has prebuilt && [ -x "$BUILD/tests/tst_cuda_ops" ]; then
  log "prebuilt: reusing $BUILD"
else
  log "configure"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DLAYERLENS_GUI=OFF -DLAYERLENS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLAYERLENS_BENCH=ON -DLAYERLENS_SHARED_DIR="$SHARED" -DPKG_CONFIG_EXECUTABLE="$PKGCONF" \
    -DCMAKE_PREFIX_PATH="$DEPS/usr" >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
  log "build (own targets first, then everything that builds)"
  ninja -C "$BUILD" -j16 tst_cuda_ops tst_backend_ops tst_device_plan bench_cuda_ops bench_model >>"$OUT/build.log" 2>&1 ||
    { grep -E "error|FAILED" -A5 "$OUT/build.log" | head -60; exit 1; }
  if has parity || has modelbench; then
    ninja -C "$BUILD" -j16 -k 0 >>"$OUT/build.log" 2>&1 ||
      { log "some other targets failed to build:"; grep FAILED "$OUT/build.log" | head; }
  fi
fi

rc=0
for step in "${STEPS[@]}"; do
  case $step in
    test)
      log "tst_cuda_ops"
      "$BUILD/tests/tst_cuda_ops" >"$OUT/tst_cuda_ops.log" 2>&1 || rc=1
      grep -v "^PASS" "$OUT/tst_cuda_ops.log"
      log "tst_backend_ops (CPU and CUDA vs reference)"
      "$BUILD/tests/tst_backend_ops" >"$OUT/tst_backend_ops.log" 2>&1 || rc=1
      grep -v "^PASS" "$OUT/tst_backend_ops.log"
      log "tst_device_plan"
      "$BUILD/tests/tst_device_plan" >"$OUT/tst_device_plan.log" 2>&1 || rc=1
      grep -E "^(FAIL|SKIP)|Totals" "$OUT/tst_device_plan.log"
      ;;
    prebuilt) ;;
    sanitize)
      CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
      log "compute-sanitizer memcheck tst_cuda_ops"
      timeout 400 "$CS" --tool memcheck --error-exitcode 3 "$BUILD/tests/tst_cuda_ops" \
        >"$OUT/memcheck.log" 2>&1 || rc=1
      grep -E "ERROR SUMMARY|^FAIL|Totals|Invalid|out of bounds" "$OUT/memcheck.log" | head -20
      for t in ${LL_RACE_TESTS:-attention attentionMap attentionFast attentionMma}; do
        log "compute-sanitizer racecheck tst_cuda_ops $t"
        timeout 300 "$CS" --tool racecheck --error-exitcode 3 "$BUILD/tests/tst_cuda_ops" "$t" \
          >"$OUT/racecheck_$t.log" 2>&1 || rc=1
        grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|^FAIL|Totals" "$OUT/racecheck_$t.log" | head -10
      done
      ;;
    parity)
      for math in ${LL_PARITY_MATHS:-precise fast}; do
        log "ctest -L parity, LAYERLENS_TEST_BACKEND=cuda LAYERLENS_CUDA_MATH=$math"
        (cd "$BUILD" && LAYERLENS_TEST_BACKEND=cuda LAYERLENS_CUDA_MATH=$math ctest -L parity ${LL_PARITY_REGEX:+-R "$LL_PARITY_REGEX"} ${LL_PARITY_EXCLUDE:+-E "$LL_PARITY_EXCLUDE"} --output-on-failure \
          --timeout 300) >"$OUT/parity_$math.log" 2>&1 || rc=1
        grep -E "tests passed|Failed|\*\*\*|FAIL" "$OUT/parity_$math.log" | head -30
      done
      ;;
    opbench)
      log "bench_cuda_ops"
      "$BUILD/tests/bench/gpu/bench_cuda_ops" 2>&1 | tee "$OUT/bench_cuda_ops.log" || rc=1
      ;;
    modelbench)
      log "model benchmark"
      bash "$ROOT/tests/bench/gpu/model_bench.sh" "$BUILD" 2>&1 | tee "$OUT/model_bench.log" || rc=1
      ;;
    *) echo "unknown step $step"; rc=2 ;;
  esac
done
[ -f "$OUT/tst_cuda_ops.log" ] && { log "tst_cuda_ops summary"; grep -E "^(FAIL|SKIP)|Totals" "$OUT/tst_cuda_ops.log"; }
[ -f "$OUT/tst_backend_ops.log" ] && { log "tst_backend_ops summary"; grep -E "^(FAIL|SKIP)|Totals" "$OUT/tst_backend_ops.log"; }
log "done rc=$rc"
exit $rc
