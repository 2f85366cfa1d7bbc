#!/usr/bin/env bash
# Engine prefill vs PyTorch eager on a Llama-3.2-1B-shaped random bf16 model (GPU machine).
#   model_bench.sh BUILD_DIR [T ...]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=$1
shift
TS=("$@")
[ ${#TS[@]} -eq 0 ] && TS=(512 4096 16384)
MD=${LL_BENCH_MODEL:-/tmp/llama1b-shaped}
export PYTHONUNBUFFERED=1
python3 "$HERE/model_bench.py" make "$MD" "${LAYERLENS_SHARED_DIR:-$ROOT/.carry/shared}/models/hf/stories260K" || exit 1
# mma: fast mode with the mma.sync flash attention kernel (LAYERLENS_CUDA_ATTN=mma).
for mode in ${LL_BENCH_MATHS:-mma fast precise}; do
  math=$mode attn=wmma
  [ "$mode" = mma ] && math=fast attn=mma
  echo "== engine, LAYERLENS_CUDA_MATH=$math LAYERLENS_CUDA_ATTN=$attn"
  LAYERLENS_CUDA_MATH=$math LAYERLENS_CUDA_ATTN=$attn "$BUILD/tests/bench/gpu/bench_model" "$MD" "${TS[@]}"
done
echo "== PyTorch"
python3 "$HERE/model_bench.py" torch "$MD" "${TS[@]}"
