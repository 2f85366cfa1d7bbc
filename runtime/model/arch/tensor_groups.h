// Tensor-table pieces that several families share word for word (GGUF names, shapes, HF names).
// A family's table is a concatenation of these and its own entries, in its own file.
#pragma once

#include <initializer_list>
#include <vector>

#include "runtime/model/arch.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

std::vector<TensorDesc> concat(std::initializer_list<std::vector<TensorDesc>> parts);

// token_embd, output_norm, output (absent when tied), with llama-style HF names.
std::vector<TensorDesc> embeddingAndHead();
// attn_norm, attn_q/k/v/output; q/k/v biases required when the spec has them (the family says so,
// or the file carries them). HF: self_attn.*_proj, with the family's q/k row transform.
std::vector<TensorDesc> separateQkvAttention(HfTransform q = HfTransform::None,
                                             HfTransform k = HfTransform::None);
// attn_q_norm / attn_k_norm over each head ([headDim]) or the whole vector ([q], [kv]).
std::vector<TensorDesc> qkNorms(QkNorm kind);
// ffn_gate/up/down for dense layers (HF mlp.*_proj); ffn_norm with the given HF name.
std::vector<TensorDesc> gatedFfn(const char* ffnNormHf);
// Router and stacked experts (ffn_gate_inp, ffn_{gate,up,down}_exps) for MoE layers.
std::vector<TensorDesc> routedExperts();

// The routed-expert fields of a Qwen MoE config.json (num_experts, num_experts_per_tok,
// moe_intermediate_size); a config with dense layers (decoder_sparse_step / mlp_only_layers) is
// refused naming the family.
void readQwenMoeHfConfig(const ConfigReader& r, ModelSpec& s, const char* family);

}  // namespace ll::rt::arch
