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
      .ggufExtra = [](const GgufSpecReader& r, ModelSpec& s) { readGemmaGguf(r, s, 62); },
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
