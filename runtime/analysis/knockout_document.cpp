// The `knockout` document (knockout_document.h), written and read back.
#include "runtime/analysis/knockout_document.h"

#include <stdexcept>

#include "runtime/analysis/document_fields.h"
#include "runtime/analysis/method_limits.h"

namespace ll::rt::ana {
namespace {

constexpr int64_t kMaxWindow = 1 << 16;

// A [begin, end) pair of layers within [0, nLayer).
std::pair<int, int> layerRange(const DocFields& f, const char* key, const nlohmann::json& v,
                               int nLayer) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer())
    f.bad(key, "must hold [begin, end) pairs of layers");
  const int64_t b = v[0].get<int64_t>(), e = v[1].get<int64_t>();
  if (b < 0 || e > nLayer || b >= e) f.bad(key, "holds layers out of range");
  return {int(b), int(e)};
}

}  // namespace

nlohmann::json knockoutDocument(const ModelSpec& spec, const std::vector<int>& from,
                                const std::vector<int>& to, const KnockoutResult& r,
                                const std::string& answerPiece, const KnockoutReadout* swept) {
  nlohmann::json j;
  j["from"] = from;
  j["to"] = to;
  j["layers"] = {r.layerBegin, r.layerEnd};
  j["answer"] = {{"id", r.answer}, {"piece", answerPiece}};
  j["p_base"] = r.pBase;
  j["p_new"] = r.pNew;
  j["relative_change_percent"] = r.relativeChange;
  j["warnings"] = knockoutWarnings(spec, from, to, r.layerBegin, r.layerEnd);
  if (swept) {
    const nlohmann::json sj = knockoutReadoutJson(*swept);
    for (const char* key : {"window", "sweep", "sweep_p_new", "sweep_layers"}) j[key] = sj[key];
  }
  return j;
}

KnockoutReadout parseKnockoutDocument(const std::string& document, const ModelSpec& spec,
                                      bool swept) {
  const std::string what = "knockout document";
  const nlohmann::json j = nlohmann::json::parse(document, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(what + ": not JSON");
  const DocFields f(what, j);
  const int L = spec.nLayer;
  KnockoutReadout r;
  KnockoutResult& e = r.effect;
  std::tie(e.layerBegin, e.layerEnd) = layerRange(f, "layers", f.at("layers"), L);
  e.answer = static_cast<int32_t>(f.object("answer").integer("id", 0, spec.nVocab - 1));
  e.pBase = f.number("p_base");
  e.pNew = f.number("p_new");
  e.relativeChange = f.number("relative_change_percent");
  if (!swept) return r;
  r.window = static_cast<int>(f.integer("window", 1, kMaxWindow));
  r.sweep = f.numbers("sweep", L);
  r.sweepPNew = f.numbers("sweep_p_new", L);
  const nlohmann::json& w = f.at("sweep_layers");
  if (!w.is_array() || w.size() != size_t(L)) f.bad("sweep_layers", "must hold one pair per layer");
  for (const auto& p : w) r.sweepLayers.push_back(layerRange(f, "sweep_layers", p, L));
  return r;
}

}  // namespace ll::rt::ana
