#!/usr/bin/env bash
# Copies the committed tree (git HEAD) into .carry/src for the GPU machine, overlaid with the
# given working-tree files (one's own uncommitted edits): other engineers' unfinished edits in
# the shared checkout never reach the device build.
#   snapshot.sh [FILE ...]      then run .carry/src/tests/bench/gpu/device_run.sh there with
#                               LL_CARRY=$PWD/.carry (carry .carry/src, .carry/debs and the fixtures)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DST=$ROOT/.carry/src
rm -rf "$DST"
mkdir -p "$DST"
git -C "$ROOT" archive HEAD | tar -x -C "$DST"
for f in "$@"; do
  mkdir -p "$DST/$(dirname "$f")"
  cp "$ROOT/$f" "$DST/$f"
done
du -sh "$DST"
