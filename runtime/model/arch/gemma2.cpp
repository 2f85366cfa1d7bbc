// gemma2: embedding x sqrt(n_embd), RMSNorm on each branch's output (post_attention_norm,
// post_ffw_norm), GELU-gated FFN, attention and final-logit soft-capping, sliding window on even
// layers, output tied to the embedding. GGUF norm weights already include Gemma's +1.
#include <cmath>

#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

std::vector<TensorDesc> gemmaPostNorms() {
  return {
      {Role::PostAttnNorm, "blk.{L}.post_attention_norm.weight", {Dim::Embd}, 1},
      {Role::PostFfnNorm, "blk.{L}.post_ffw_norm.weight", {Dim::Embd}, 1},
  };
}

const ArchDesc& gemma2() {
  static const ArchDesc a{
      .name = "gemma2",
      .tensors =
          concat({embeddingAndHead(), separateQkvAttention(), gatedFfn(nullptr), gemmaPostNorms()}),
      .act = Activation::GeGlu,
      .ropeNeox = true,
      .postNorms = true,
      .embdScale = true,
      .windowLayers = WindowLayers::Even,
      .ggufExtra =
          [](const GgufSpecReader& r, ModelSpec& s) {
            s.attnSoftcap = float(r.optFloat("attn_logit_softcapping").value_or(0.0));
            s.finalSoftcap = float(r.optFloat("final_logit_softcapping").value_or(0.0));
            if (s.attnSoftcap < 0 || s.finalSoftcap < 0) r.fail("negative soft-capping value");
            // llama.cpp: Gemma 2 27B (46 layers) scales queries by 1/sqrt(n_embd / n_head).
            if (s.nLayer == 46) s.attnScale = 1.0f / std::sqrt(float(s.nEmbd) / float(s.nHead));
          },
  };
  return a;
}

}  // namespace ll::rt::arch
