#include "runtime/analysis/knockout.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "runtime/analysis/stats.h"
#include "runtime/api/session.h"

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

}  // namespace ll::rt::ana
