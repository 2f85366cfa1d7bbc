// attributionJson read back (attribution.h): a server's attribution document into the Attribution
// the panels and exports read, every field checked against the model's shape.
#include "runtime/analysis/attribution.h"
#include "runtime/analysis/document_reader.h"

namespace ll::rt::ana {

Attribution parseAttributionJson(const nlohmann::json& j, int nLayer, int nHead, int nVocab,
                                 int nTokens) {
  const DocumentReader d("attribution document", j);
  Attribution a;
  a.nLayer = nLayer;
  a.nHead = nHead;
  a.embed = d.number("embed");
  a.attn = d.numbers("attn", size_t(nLayer));
  a.mlp = d.numbers("mlp", size_t(nLayer));
  a.heads = d.matrix<double>(
      "heads", size_t(nLayer), size_t(nHead),
      [&](const std::string& k, const nlohmann::json& x) { return d.numberAt(k, x); });
  a.bias = d.number("bias");
  a.logit = d.number("logit");
  a.position = static_cast<int>(d.integer("position", 0, int64_t(nTokens) - 1));
  a.target = static_cast<int32_t>(d.integer("target", 0, int64_t(nVocab) - 1));
  const nlohmann::json& other = d.field("other");
  a.other = other.is_null() ? -1 : static_cast<int32_t>(d.integerAt("other", other, 0, nVocab - 1));
  a.steering = d.number("steering");
  a.softcapped = d.boolean("softcapped");
  a.modelLogit = d.number("model_logit");
  return a;
}

}  // namespace ll::rt::ana
