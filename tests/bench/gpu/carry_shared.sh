#!/usr/bin/env bash
# Copies a subset of ../shared (models + references) into .carry/shared (git-ignored) for the GPU
# machine, which does not get /work/shared and takes at most 64 MiB per call.
#   carry_shared.sh dense   stories260K, llama-gqa, llama-moe, moe4, llama2c, HF twins
#   carry_shared.sh quant   the quantized llama fixtures, gpt2-tiny (and the stories260K tokenizer)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
SRC=${LAYERLENS_SHARED_DIR:-$ROOT/../shared}
DST=$ROOT/.carry/shared
rm -rf "$DST"
mkdir -p "$DST/models/hf" "$DST/models/quant" "$DST/reference"
cp "$SRC/models/README.md" "$DST/models/"
cp "$SRC/reference/README.md" "$SRC/reference/MANIFEST.json" "$DST/reference/"
case ${1:-dense} in
  dense)
    for m in stories260K.gguf llama-gqa-f16.gguf llama-moe.gguf stories260K-moe4.gguf; do cp "$SRC/models/$m" "$DST/models/"; done
    cp -r "$SRC/models/llama2c" "$DST/models/"
    cp -r "$SRC/models/hf/stories260K" "$SRC/models/hf/stories260K-sharded" "$DST/models/hf/"
    for r in stories260K llama-gqa-f16 llama-moe stories260K-moe4; do cp -r "$SRC/reference/$r" "$DST/reference/"; done
    ;;
  quant)
    for f in "$SRC"/models/quant/llama-quant-Q*.gguf; do cp "$f" "$DST/models/quant/"; done
    for r in "$SRC"/reference/llama-quant-Q*; do cp -r "$r" "$DST/reference/"; done
    cp "$SRC/models/gpt2-tiny-f16.gguf" "$DST/models/"
    cp -r "$SRC/models/hf/stories260K" "$DST/models/hf/"  # tokenizer for the model benchmark
    cp -r "$SRC/reference/gpt2-tiny-f16" "$DST/reference/"
    ;;
  *) echo "unknown subset $1" >&2; exit 2 ;;
esac
chmod -R u+w "$DST"
du -sh "$DST"
