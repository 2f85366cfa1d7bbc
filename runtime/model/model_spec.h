// ModelSpec: an architecture described as data (hyperparameters and layout switches). One engine
// runs every supported architecture by reading these fields.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace ll::rt {

enum class Arch { Llama, Qwen2, Gpt2, Qwen2Moe, Olmoe };
enum class NormKind { RmsNorm, LayerNorm };
enum class Activation { SwiGlu, GeluTanh };

struct ModelSpec {
  std::string arch;  // "llama", "qwen2", "gpt2", "qwen2moe", "olmoe" (GGUF general.architecture)
  Arch archKind = Arch::Llama;
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
  bool qkNorm = false;       // olmoe: RMSNorm over the whole q and k vectors before RoPE
  bool learnedPos = false;   // gpt2
  bool tiedOutput = false;   // no output.weight: the token embedding is the LM head
  bool hasRope = true;
  kern::RopeParams rope;     // nRot, base, neox, scaling

  std::map<std::string, int> tensorTypeCounts;  // "Q4_K" -> count
};

// The architectures this build supports, for error messages ("supported: llama, qwen2, ...").
const std::vector<std::string>& supportedArchitectures();

}  // namespace ll::rt
