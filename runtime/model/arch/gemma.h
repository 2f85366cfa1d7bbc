// What gemma2 and gemma3 share: the tensor table (Gemma's four norms per block, the HF norm
// weights shifted by one) and the rules their GGUF and HF readers both apply.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/model/arch.h"

namespace ll::rt {
class ConfigReader;
class GgufSpecReader;
}  // namespace ll::rt

namespace ll::rt::arch {

// token_embd, attention (per-head q/k norms when qkNorm), GELU-gated FFN, post-branch norms; every
// norm's HF weight gets HfTransform::AddOne.
std::vector<TensorDesc> gemmaTensors(bool qkNorm);

// Attention logits are scaled by 1/sqrt(scalar) (HF query_pre_attn_scalar); spec.attnScale is set
// only where that differs from 1/sqrt(headDim).
void gemmaQueryScale(ModelSpec& s, double scalar);
// Soft-capping values (0: none); fail is called (and must throw) for negative ones.
void gemmaSoftcaps(ModelSpec& s, double attn, double final,
                   const std::function<void(const std::string&)>& fail);

// The Gemma keys of a GGUF: both soft-caps, and llama.cpp's query scale 1/sqrt(n_embd / n_head)
// for the 27B models, recognised by their layer count (Gemma 2: 46, Gemma 3: 62).
void readGemmaGguf(const GgufSpecReader& r, ModelSpec& s, int layers27b);

// The Gemma fields of an HF config.json (Gemma2Config / Gemma3TextConfig defaults where a key is
// absent): intermediate_size, hidden_activation, sliding_window, layer_types /
// sliding_window_pattern, query_pre_attn_scalar and both soft-caps.
struct GemmaHfDefaults {
  double queryPreAttnScalar = 256;
  int slidingWindow = 4096;
  double attnSoftcap = 0;   // Gemma 2: 50
  double finalSoftcap = 0;  // Gemma 2: 30
};
void readGemmaHfConfig(const ConfigReader& r, ModelSpec& s, const GemmaHfDefaults& d);

}  // namespace ll::rt::arch
