// steeringSweepJson read back (steering_sweep.h): a server's steer-sweep document into the
// SteeringSweepResult the Steering readouts panel and its export read, each field checked against
// the model's and the prompt's shape.
#include "runtime/analysis/document_reader.h"
#include "runtime/analysis/steering_sweep.h"

#include <climits>

namespace ll::rt::ana {

SteeringSweepResult parseSteeringSweepJson(const nlohmann::json& j, int nLayer, int nTokens,
                                           int nVocab) {
  const DocumentReader d("steer-sweep document", j);
  SteeringSweepResult r;
  r.nLayer = static_cast<int>(d.integer("n_layer", nLayer, nLayer));
  r.nTokens = static_cast<int>(d.integer("n_tokens", nTokens, nTokens));
  r.position = static_cast<int>(d.integer("position", 0, int64_t(nTokens) - 1));
  r.layer = static_cast<int>(d.integer("layer", 0, int64_t(nLayer) - 1));
  r.fromPos = static_cast<int>(d.integer("from", 0, INT_MAX));
  r.alpha = d.floatAt("alpha", d.field("alpha"));
  r.reaches = d.boolean("reaches");
  if (r.reaches != (r.position >= r.fromPos))
    d.bad("reaches", "true exactly when 'position' >= 'from'");
  const int64_t lastId = int64_t(nVocab) - 1;
  r.top1Base = static_cast<int32_t>(d.integer("top1_base", 0, lastId));
  r.entropyBase = d.number("entropy_base");
  // The alpha sweep: as many values as the document has, within what a request may ask.
  const nlohmann::json& alphas = d.field("alphas");
  if (!alphas.is_array()) d.bad("alphas", "an array");
  if (alphas.size() > kMaxSweepAlphas)
    d.bad("alphas", ("an array of at most " + std::to_string(kMaxSweepAlphas) + " values").c_str());
  const size_t A = alphas.size();
  r.alphas = d.floats("alphas", A);
  r.kl = d.numbers("kl", A);
  r.entropy = d.numbers("entropy", A);
  r.top1 = d.integers("top1", A, 0, lastId);
  // The layer sweep: every layer, or none (the request skipped it).
  const nlohmann::json& layerKl = d.field("layer_kl");
  const size_t L = layerKl.is_array() && layerKl.empty() ? 0 : size_t(nLayer);
  r.layerKl = d.numbers("layer_kl", L);
  r.layerEntropy = d.numbers("layer_entropy", L);
  r.layerTop1 = d.integers("layer_top1", L, 0, lastId);
  r.pushRatio = d.numbers("push_ratio", size_t(nLayer));
  return r;
}

}  // namespace ll::rt::ana
