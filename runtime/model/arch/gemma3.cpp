// gemma3 (270M-27B text): the Gemma 2 block without soft-capping, plus per-head q/k RMSNorm; five
// local layers (window, RoPE base 10000, unscaled) for each global one ((il + 1) % 6 == 0: the
// file's RoPE base and scaling).
#include <cmath>

#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

std::vector<TensorDesc> gemmaPostNorms();  // gemma2.cpp

const ArchDesc& gemma3() {
  static const ArchDesc a{
      .name = "gemma3",
      .tensors = concat({embeddingAndHead(), separateQkvAttention(), qkNorms(QkNorm::PerHead),
                         gatedFfn(nullptr), gemmaPostNorms()}),
      .act = Activation::GeGlu,
      .qkNorm = QkNorm::PerHead,
      .ropeNeox = true,
      .postNorms = true,
      .embdScale = true,
      .windowLayers = WindowLayers::GemmaPattern,
      .localRopeBase = 10000.0f,
      .ggufExtra =
          [](const GgufSpecReader&, ModelSpec& s) {
            // llama.cpp: Gemma 3 27B (62 layers) scales queries by 1/sqrt(n_embd / n_head).
            if (s.nLayer == 62) s.attnScale = 1.0f / std::sqrt(float(s.nEmbd) / float(s.nHead));
          },
  };
  return a;
}

}  // namespace ll::rt::arch
