// layerSkipJson read back (layer_skip.h): a server's layer-skip document into the LayerSkipResult
// the panel and export read (and, when the document has them, every position's values), each
// field checked against the model's and the prompt's shape.
#include "runtime/analysis/document_reader.h"
#include "runtime/analysis/layer_skip.h"

namespace ll::rt::ana {

LayerSkipResult parseLayerSkipJson(const nlohmann::json& j, int nLayer, int nTokens, int nVocab,
                                   LayerSkipPositions* all) {
  const DocumentReader d("layer-skip document", j);
  LayerSkipResult r;
  r.nLayer = static_cast<int>(d.integer("n_layer", nLayer, nLayer));
  r.nTokens = static_cast<int>(d.integer("n_tokens", nTokens, nTokens));
  r.position = static_cast<int>(d.integer("position", 0, int64_t(nTokens) - 1));
  try {
    r.part = parseSkipPart(d.string("sublayer"));
  } catch (const std::invalid_argument&) {
    d.bad("sublayer", "layer, attn or mlp");
  }
  const int64_t lastId = int64_t(nVocab) - 1;
  const size_t L = size_t(nLayer), T = size_t(nTokens);
  r.top1 = static_cast<int32_t>(d.integer("top1", 0, lastId));
  r.kl = d.numbers("kl", L);
  r.klMean = d.numbers("kl_mean", L);
  r.top1Changed = d.booleans("top1_changed", L);
  r.top1Skip = d.integers("top1_skip", L, 0, lastId);
  r.relUpdate = d.floats("rel_update", L);
  r.cosUpdate = d.floats("cos_update", L);
  r.active = d.booleans("active", L);
  if (!all) return r;
  const auto number = [&](const std::string& k, const nlohmann::json& x) {
    return d.numberAt(k, x);
  };
  const auto id = [&](const std::string& k, const nlohmann::json& x) {
    return static_cast<int32_t>(d.integerAt(k, x, 0, lastId));
  };
  const auto real = [&](const std::string& k, const nlohmann::json& x) { return d.floatAt(k, x); };
  const auto flag = [&](const std::string& k, const nlohmann::json& x) -> unsigned char {
    if (!x.is_boolean()) d.bad(k, "an array of arrays of true / false");
    return x.get<bool>() ? 1 : 0;
  };
  r.klAll = d.matrix<double>("kl_all", L, T, number);
  r.top1SkipAll = d.matrix<int32_t>("top1_skip_all", L, T, id);
  all->top1 = d.integers("top1_all", T, 0, lastId);
  all->relUpdate = d.matrix<float>("rel_update_all", L, T, real);
  all->cosUpdate = d.matrix<float>("cos_update_all", L, T, real);
  all->active = d.matrix<unsigned char>("active_all", L, T, flag);
  return r;
}

}  // namespace ll::rt::ana
