#!/usr/bin/env bash
# Copies a subset of ../shared (models + references) for the GPU machine, which does not get
# /work/shared and takes at most 64 MiB per call (device_run.sh unpacks or links it).
#   carry_shared.sh main  [DEST]  every fixture but the quantized llamas (75 MiB raw), packed as
#                                 DEST/shared.tar.xz (~41 MiB): dense, MoE, twins, interventions,
#                                 prefix reuse, CLI dump, and the tokenizer of the model benchmark
#   carry_shared.sh quant [DEST]  the quantized llama fixtures, plain (40 MiB), and the tokenizer
#                                 folder the model benchmark copies (models/hf/stories260K)
#   carry_shared.sh families [DEST] the newer architectures' fixtures and references (qwen3 ...
#                                 gpt-oss), packed (~11 MiB), for tst_parity_families on CUDA
# DEST defaults to .carry/shared (git-ignored).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
SRC=${LAYERLENS_SHARED_DIR:-$ROOT/../shared}
DST=${2:-$ROOT/.carry/shared}
rm -rf "$DST"
mkdir -p "$DST"
case ${1:-main} in
  main)
    models=(stories260K.gguf llama-gqa-f16.gguf qwen2-tiny.gguf gpt2-tiny-f16.gguf llama-moe.gguf
      qwen2moe-tiny.gguf olmoe-tiny.gguf stories260K-moe4.gguf llama2c hf)
    refs=(stories260K llama-gqa-f16 qwen2-tiny gpt2-tiny-f16 llama-moe qwen2moe-tiny olmoe-tiny
      stories260K-moe4)
    (cd "$SRC" && tar cf - models/README.md reference/README.md reference/MANIFEST.json \
      "${models[@]/#/models/}" "${refs[@]/#/reference/}") | xz -9 -T2 >"$DST/shared.tar.xz"
    ;;
  families)  # the newer architectures (tst_parity_families): about 11 MiB before xz
    ids=(qwen3-tiny qwen3moe-tiny gemma2-tiny gemma3-tiny phi3-tiny gpt-oss-tiny)
    files=()
    for i in "${ids[@]}"; do files+=("models/$i.gguf" "reference/$i"); done
    (cd "$SRC" && tar cf - models/README.md reference/README.md reference/MANIFEST.json \
      "${files[@]}") | xz -9 -T2 >"$DST/shared.tar.xz"
    ;;
  quant)
    mkdir -p "$DST/models/quant" "$DST/models/hf" "$DST/reference"
    cp -r "$SRC/models/hf/stories260K" "$DST/models/hf/"
    cp "$SRC/models/README.md" "$DST/models/"
    cp "$SRC/reference/README.md" "$SRC/reference/MANIFEST.json" "$DST/reference/"
    for f in "$SRC"/models/quant/llama-quant-*.gguf; do cp "$f" "$DST/models/quant/"; done
    for r in "$SRC"/reference/llama-quant-*; do cp -r "$r" "$DST/reference/"; done
    chmod -R u+w "$DST"
    ;;
  *) echo "unknown subset $1" >&2; exit 2 ;;
esac
du -sh "$DST"
