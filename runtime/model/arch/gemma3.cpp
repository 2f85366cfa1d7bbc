// gemma3 (270M-27B text): the Gemma 2 block plus per-head q/k RMSNorm, soft-capping only where the
// config sets it; five local layers (window, RoPE base rope_local_base_freq = 10000, unscaled) for
// each global one ((il + 1) % 6 == 0: the file's RoPE base and scaling).
#include <cmath>

#include "runtime/model/arch/families.h"
#include "runtime/model/arch/gemma.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& gemma3() {
  static const ArchDesc a{
      .name = "gemma3",
      .hfClasses = {"Gemma3ForCausalLM"},
      .tensors = gemmaTensors(true),
      .act = Activation::GeGlu,
      .qkNorm = QkNorm::PerHead,
      .ropeNeox = true,
      .postNorms = true,
      .embdScale = true,
      .windowLayers = WindowLayers::GemmaPattern,
      .localRopeBase = 10000.0f,
      .hfTiedByDefault = true,
      .ggufExtra =
          [](const GgufSpecReader& r, ModelSpec& s) {
            gemmaSoftcaps(s, r.optFloat("attn_logit_softcapping").value_or(0.0),
                          r.optFloat("final_logit_softcapping").value_or(0.0),
                          [&](const std::string& m) { r.fail(m); });
            // llama.cpp: Gemma 3 27B (62 layers) scales queries by 1/sqrt(n_embd / n_head), its
            // query_pre_attn_scalar.
            if (s.nLayer == 62) gemmaQueryScale(s, double(s.nEmbd) / double(s.nHead));
          },
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            readGemmaHfConfig(r, s, {});
            if (auto base = r.optFloat("rope_local_base_freq")) {
              if (!(*base > 0)) r.fail("'rope_local_base_freq' must be positive");
              s.localRope = true;  // deriveLayout keeps this base
              s.ropeLocal.base = float(*base);
            }
          },
  };
  return a;
}

}  // namespace ll::rt::arch
