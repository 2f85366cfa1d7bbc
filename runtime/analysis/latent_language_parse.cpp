// latentLanguageJson read back (latent_language.h): a server's latent-language document into the
// LatentLanguageResult the panel and export read, every field checked against the model's shape.
#include "runtime/analysis/document_reader.h"
#include "runtime/analysis/latent_language.h"

namespace ll::rt::ana {

LatentLanguageResult parseLatentLanguageJson(const nlohmann::json& j, int nLayer, int nTokens,
                                             int nVocab) {
  const DocumentReader d("latent-language document", j);
  LatentLanguageResult r;
  r.nLayer = static_cast<int>(d.integer("layers", nLayer, nLayer));
  r.a = d.numbers("a", size_t(nLayer) + 1);
  r.b = d.numbers("b", size_t(nLayer) + 1);
  // wordFirstTokens gives one or two tokens per word (with and without the leading space).
  for (const auto& [key, out] : {std::pair{"tokens_a", &r.tokensA}, {"tokens_b", &r.tokensB}}) {
    const nlohmann::json& v = d.field(key);
    if (!v.is_array() || v.empty() || v.size() > 2) d.bad(key, "an array of one or two tokens");
    *out = d.integers(key, v.size(), 0, int64_t(nVocab) - 1);
  }
  r.position = static_cast<int>(d.integer("position", 0, int64_t(nTokens) - 1));
  return r;
}

}  // namespace ll::rt::ana
