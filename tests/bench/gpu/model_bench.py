"""Llama-3.2-1B-shaped model with random bf16 weights for the GPU prefill benchmark.

  model_bench.py make DIR TOKENIZER_DIR   build it in PyTorch/transformers and save an HF folder
                                          (safetensors + config.json + a small tokenizer.json)
  model_bench.py torch DIR T...           time PyTorch eager attention with output_attentions=True
                                          (and SDPA without attentions) on the same weights
Prints RESULT lines: median wall ms and peak device memory (torch.cuda.max_memory_allocated).
"""
import json
import os
import shutil
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROPE = {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192, "rope_type": "llama3"}


def config(attn):
    return LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                       num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                       max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                       rope_scaling=dict(ROPE), tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                       hidden_act="silu", attn_implementation=attn)


def make(d, tok_dir):
    if os.path.exists(os.path.join(d, "config.json")):
        print("model exists:", d)
        return
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config("eager")).to(torch.bfloat16)
    model.save_pretrained(d, safe_serialization=True)
    # Keep the classic keys too, whatever this transformers version writes.
    p = os.path.join(d, "config.json")
    cfg = json.load(open(p))
    cfg.setdefault("rope_theta", 500000.0)
    cfg.setdefault("rope_scaling", dict(ROPE))
    cfg.setdefault("torch_dtype", "bfloat16")
    cfg.setdefault("architectures", ["LlamaForCausalLM"])
    json.dump(cfg, open(p, "w"), indent=1)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(tok_dir, f)):
            shutil.copy(os.path.join(tok_dir, f), d)
    print("saved", d, sorted(os.listdir(d)))


def bench(d, Ts):
    gib = 1024.0 ** 3
    for attn in os.environ.get("LL_BENCH_TORCH_ATTN", "eager sdpa").split():
        model = LlamaForCausalLM.from_pretrained(d, dtype=torch.bfloat16, attn_implementation=attn).cuda().eval()
        weights = torch.cuda.memory_allocated()
        for T in Ts:
            ids = torch.randint(3, 500, (1, T), device="cuda")
            reps = 2 if T >= 16384 else 5
            times = []
            try:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                with torch.no_grad():
                    for r in range(reps + 1):
                        torch.cuda.synchronize()
                        t0 = time.perf_counter()
                        out = model(ids, output_attentions=(attn == "eager"), use_cache=False)
                        torch.cuda.synchronize()
                        if r > 0:
                            times.append((time.perf_counter() - t0) * 1000)
                        del out
                times.sort()
                peak = torch.cuda.max_memory_allocated()
                print(f"RESULT torch-{attn}{'+output_attentions' if attn == 'eager' else ''} T={T} median "
                      f"{times[len(times) // 2]:.1f} ms (min {times[0]:.1f}) peak device {peak / gib:.2f} GiB total, "
                      f"{(peak - weights) / gib:.2f} GiB above the weights", flush=True)
            except torch.OutOfMemoryError:
                print(f"RESULT torch-{attn} T={T} OOM", flush=True)
                out = None
                torch.cuda.empty_cache()
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        bench(sys.argv[2], [int(t) for t in sys.argv[3:]] or [512, 4096, 16384])
