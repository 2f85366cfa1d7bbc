// supportedArchitectures() and the sanity checks every loader runs on a finished ModelSpec.
#include "runtime/model/model_spec.h"

#include "runtime/formats/mapped_file.h"
#include <cmath>

#include "runtime/model/spec_check.h"

namespace ll::rt {

float ModelSpec::layerAttnScale() const {
  return attnScale > 0.0f ? attnScale : 1.0f / std::sqrt(float(headDim));
}

void validateSpec(const ModelSpec& s, const std::filesystem::path& file) {
  auto bad = [&](const std::string& what) {
    throw FormatError(file, "invalid hyperparameters: " + what);
  };
  // Limits far above any real model but low enough that sizes derived from them cannot overflow.
  constexpr int kMaxDim = 1 << 20;
  auto inRange = [&](int v, int lo, int hi, const char* name) {
    if (v < lo || v > hi)
      bad(std::string(name) + " = " + std::to_string(v) + " (expected " + std::to_string(lo) +
          ".." + std::to_string(hi) + ")");
  };
  inRange(s.nLayer, 1, 4096, "n_layer");
  inRange(s.nEmbd, 1, kMaxDim, "n_embd");
  inRange(s.nHead, 1, 4096, "n_head");
  inRange(s.nHeadKv, 1, s.nHead, "n_head_kv");
  if (s.nHead % s.nHeadKv != 0)
    bad("n_head " + std::to_string(s.nHead) + " is not a multiple of n_head_kv " +
        std::to_string(s.nHeadKv));
  inRange(s.headDim, 1, 65536, "head_dim");
  inRange(s.nCtx, 1, 1 << 24, "context_length");
  inRange(s.nVocab, 1, 1 << 24, "n_vocab");
  if (s.nExpert > 0) {
    inRange(s.nExpert, 1, 4096, "expert_count");
    inRange(s.nExpertUsed, 1, s.nExpert, "expert_used_count");
    inRange(s.nFfExpert, 1, kMaxDim, "expert feed_forward_length");
  } else {
    inRange(s.nFf, 1, kMaxDim, "feed_forward_length");
  }
  inRange(s.nFfShexp, 0, kMaxDim, "expert_shared_feed_forward_length");
  if (s.hasRope) {
    inRange(s.rope.nRot, 2, s.headDim, "rope.dimension_count");
    if (s.rope.nRot % 2 != 0)
      bad("rope.dimension_count " + std::to_string(s.rope.nRot) + " is odd");
    if (!(s.rope.base > 0.0f) || !(s.rope.freqScale > 0.0f))
      bad("rope base and scale must be positive");
  }
  if (!(s.normEps > 0.0f) || !(s.normEps < 1.0f)) bad("norm epsilon " + std::to_string(s.normEps));
  inRange(s.window, 0, 1 << 24, "attention.sliding_window");
  if (!s.windowed.empty() && s.windowed.size() != size_t(s.nLayer))
    bad("sliding-window layer list does not match n_layer");
  auto finiteNonNeg = [&](float v, const char* name) {
    if (!(v >= 0.0f) || !std::isfinite(v)) bad(std::string(name) + " = " + std::to_string(v));
  };
  finiteNonNeg(s.attnSoftcap, "attn_logit_softcapping");
  finiteNonNeg(s.finalSoftcap, "final_logit_softcapping");
  finiteNonNeg(s.attnScale, "attention scale");
  if (s.hasRope && !s.rope.freqFactors.empty() && s.rope.freqFactors.size() != size_t(s.rope.nRot / 2))
    bad("rope factors do not match rope.dimension_count");
}

}  // namespace ll::rt
