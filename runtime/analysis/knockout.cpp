#include "runtime/analysis/knockout.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/stats.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::pair<int, int> knockoutWindow(int layer, int window, int nLayer) {
  if (layer < 0 || layer >= nLayer) throw std::invalid_argument("knockout: layer out of range");
  if (window <= 0) throw std::invalid_argument("knockout: window must be positive");
  const int b = layer - window / 2;
  return {std::max(0, b), std::min(nLayer, b + window)};
}

std::vector<int> parseSpan(const std::string& spec, int T) {
  std::set<int> out;
  auto num = [&](const std::string& s) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size())
      throw std::invalid_argument("span: '" + s + "' is not an index");
    if (v < 0) v += T;  // -1 = last
    if (v < 0 || v >= T) throw std::invalid_argument("span: index " + s + " is out of range");
    return v;
  };
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "last") {
      out.insert(T - 1);
    } else if (item == "all-but-last") {
      for (int i = 0; i + 1 < T; ++i) out.insert(i);
    } else if (item == "all") {
      for (int i = 0; i < T; ++i) out.insert(i);
    } else if (auto dash = item.find('-', 1); dash != std::string::npos) {
      const int a = num(item.substr(0, dash)), b = num(item.substr(dash + 1));
      if (b < a) throw std::invalid_argument("span: '" + item + "' runs backwards");
      for (int i = a; i <= b; ++i) out.insert(i);
    } else {
      out.insert(num(item));
    }
  }
  if (out.empty()) throw std::invalid_argument("span: '" + spec + "' names no tokens");
  return {out.begin(), out.end()};
}

KnockoutResult attentionKnockout(Session& s, const std::vector<int>& from,
                                 const std::vector<int>& to, int layer, int window,
                                 int32_t answer) {
  KnockoutResult r;
  std::tie(r.layerBegin, r.layerEnd) = knockoutWindow(layer, window, s.model().spec.nLayer);
  RunRequest base;
  base.capture = {false, false};
  auto b = s.run(base);
  const int V = b->nVocab;
  if (answer >= V) throw std::invalid_argument("knockout: answer token out of range");
  const std::vector<float> pb = softmax(b->logits.data(), V);
  r.answer = answer >= 0 ? answer : rowStats(b->logits.data(), V, 1).topIds[0];
  RunRequest ko = base;
  ko.interventions.knockout = Knockout{from, to, r.layerBegin, r.layerEnd};
  auto n = s.run(ko);
  const std::vector<float> pn = softmax(n->logits.data(), V);
  r.pBase = pb[r.answer];
  r.pNew = pn[r.answer];
  r.relativeChange = r.pBase > 0 ? 100.0 * (r.pNew - r.pBase) / r.pBase : 0.0;
  return r;
}

namespace {
double relative(double pBase, double pNew) {
  return pBase > 0 ? 100.0 * (pNew - pBase) / pBase : 0.0;
}
}  // namespace

KnockoutReadout knockoutReadout(Session& s, const std::vector<int32_t>& ids,
                                const Interventions& base, const Knockout& ko,
                                const KnockoutReadoutRequest& req,
                                const KnockoutProgress& progress) {
  const int L = s.model().spec.nLayer;
  if (ko.layerBegin < 0 || ko.layerEnd > L || ko.layerBegin >= ko.layerEnd)
    throw std::invalid_argument("knockout: layers out of range");
  if (req.sweep && req.window <= 0)
    throw std::invalid_argument("knockout: window must be positive");
  Interventions plain = base;
  plain.knockout.reset();
  const int total = 2 + (req.sweep ? L : 0);
  int done = 0;
  // The last token's logits under iv (capture off, last logits only).
  const auto lastRun = [&](const Interventions& iv) {
    auto tr = runIds(s, ids, iv, false, {}, false);
    if (progress && !progress(++done, total)) throw Cancelled();
    return tr;
  };
  const auto lastProbs = [&](const Interventions& iv) {
    auto tr = lastRun(iv);
    return softmax(tr->logits.data(), tr->nVocab);
  };
  const auto b = lastRun(plain);
  const int V = b->nVocab;
  if (req.answer >= V) throw std::invalid_argument("knockout: answer token out of range");
  KnockoutReadout r;
  KnockoutResult& e = r.effect;
  e.answer = req.answer >= 0 ? req.answer : rowStats(b->logits.data(), V, 1).topIds[0];
  e.pBase = softmax(b->logits.data(), V)[size_t(e.answer)];
  const auto knocked = [&](int b, int end) {
    Interventions iv = plain;
    iv.knockout = Knockout{ko.from, ko.to, b, end, ko.fromIndex};
    return double(lastProbs(iv)[size_t(e.answer)]);
  };
  e.layerBegin = ko.layerBegin;
  e.layerEnd = ko.layerEnd;
  e.pNew = knocked(ko.layerBegin, ko.layerEnd);
  e.relativeChange = relative(e.pBase, e.pNew);
  if (!req.sweep) return r;
  r.window = req.window;
  for (int l = 0; l < L; ++l) {
    const auto w = knockoutWindow(l, req.window, L);
    r.sweepLayers.push_back(w);
    r.sweepPNew.push_back(knocked(w.first, w.second));
    r.sweep.push_back(relative(e.pBase, r.sweepPNew.back()));
  }
  return r;
}

nlohmann::json knockoutReadoutJson(const KnockoutReadout& r) {
  const KnockoutResult& e = r.effect;
  nlohmann::json j;
  j["layers"] = {e.layerBegin, e.layerEnd};
  j["answer"] = e.answer;
  j["p_base"] = e.pBase;
  j["p_new"] = e.pNew;
  j["relative_change_percent"] = e.relativeChange;
  if (!r.sweep.empty()) {
    j["window"] = r.window;
    j["sweep"] = r.sweep;
    j["sweep_p_new"] = r.sweepPNew;
    nlohmann::json w = nlohmann::json::array();
    for (auto [b, end] : r.sweepLayers) w.push_back({b, end});
    j["sweep_layers"] = w;
  }
  return j;
}

}  // namespace ll::rt::ana
