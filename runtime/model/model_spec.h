// ModelSpec: an architecture described as data (hyperparameters and layout switches). One engine
// runs every supported architecture by reading these fields.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace ll::rt {

enum class NormKind { RmsNorm, LayerNorm };
// SwiGlu: silu(gate) * up; GeluTanh: gelu(up) (gpt2, no gate); GeGlu: gelu_tanh(gate) * up
// (Gemma); SwiGluOai: gpt-oss's clamped SwiGLU, min(g,7) * sigmoid(1.702 min(g,7)) * (clamp(u,-7,7)
// + 1).
enum class Activation { SwiGlu, GeluTanh, GeGlu, SwiGluOai };
// Full: RMSNorm over the whole q (and k) vector before the head split (olmoe); PerHead: over each
// head's headDim values (qwen3, gemma3).
enum class QkNorm { None, Full, PerHead };
// How top-k expert weights are normalised (llama/Mixtral always; others follow a GGUF key).
enum class ExpertNorm { Never, Always, FromKey };

struct ModelSpec {
  std::string arch;  // GGUF general.architecture; its description: archOf(spec) (arch.h)
  std::string name;  // general.name when present

  int nLayer = 0;
  int nEmbd = 0;
  int nHead = 0;
  int nHeadKv = 0;
  int headDim = 0;     // nEmbd / nHead unless the file says otherwise
  int nFf = 0;         // dense FFN hidden size (0 when every layer is MoE)
  int nCtx = 0;        // context length
  int nVocab = 0;

  int nExpert = 0;       // 0 = dense
  int nExpertUsed = 0;
  int nFfExpert = 0;     // per-expert hidden size
  int nFfShexp = 0;      // qwen2moe shared expert hidden size (0 = none)
  bool expertWeightsNorm = false;  // renormalise top-k weights to sum 1 (Mixtral: true)

  NormKind norm = NormKind::RmsNorm;
  float normEps = 1e-5f;
  Activation act = Activation::SwiGlu;
  bool qkvBias = false;      // qwen2, gpt2
  QkNorm qkNorm = QkNorm::None;
  bool learnedPos = false;   // gpt2
  bool tiedOutput = false;   // no output.weight: the token embedding is the LM head
  bool postNorms = false;    // Gemma: RMSNorm of each branch's output before it is added
  float embdScale = 0.0f;    // > 0: block 0's input is the embedding times this (Gemma: sqrt(d))
  float attnScale = 0.0f;    // q.k multiplier; 0: 1/sqrt(headDim)
  float attnSoftcap = 0.0f;  // > 0: attention logits soft-capped (Gemma 2)
  float finalSoftcap = 0.0f; // > 0: output logits soft-capped (Gemma 2)
  bool attnSinks = false;    // per-head sink logits in the softmax (gpt-oss)
  int window = 0;            // sliding-window size for the layers windowed[] marks (0: none)
  std::vector<uint8_t> windowed;  // [nLayer] 1 = this layer uses the sliding window
  bool hasRope = true;
  kern::RopeParams rope;       // nRot, base, neox, scaling
  bool localRope = false;      // windowed layers use ropeLocal instead (Gemma 3)
  kern::RopeParams ropeLocal;

  int layerWindow(int l) const {
    return window > 0 && l >= 0 && l < int(windowed.size()) && windowed[size_t(l)] ? window : 0;
  }
  const kern::RopeParams& layerRope(int l) const {
    return localRope && layerWindow(l) > 0 ? ropeLocal : rope;
  }
  float layerAttnScale() const;  // attnScale or 1/sqrt(headDim)

  std::map<std::string, int> tensorTypeCounts;  // "Q4_K" -> count
};

// The architectures this build supports, for error messages ("supported: llama, qwen2, ...").
const std::vector<std::string>& supportedArchitectures();

}  // namespace ll::rt
