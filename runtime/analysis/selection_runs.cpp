#include "runtime/analysis/selection_runs.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "runtime/analysis/distill_answer.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::vector<DistillStage> parseStages(const std::string& spec) {
  std::vector<DistillStage> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t c = item.find(':');
    if (c == std::string::npos) throw std::invalid_argument("stage '" + item + "' is not LAYER:K");
    try {
      size_t u1 = 0, u2 = 0;
      DistillStage st{std::stoi(item.substr(0, c), &u1), std::stoi(item.substr(c + 1), &u2)};
      if (u1 != c || u2 != item.size() - c - 1) throw std::invalid_argument("");
      if (st.layer < 0 || st.k < 0) throw std::invalid_argument("");
      if (!out.empty() && st.layer <= out.back().layer)
        throw std::invalid_argument("stage layers must increase");
      out.push_back(st);
    } catch (const std::exception& e) {
      throw std::invalid_argument("stage '" + item + "' is not LAYER:K with increasing layers");
    }
  }
  if (out.empty()) throw std::invalid_argument("no PromptDistill stages");
  return out;
}

namespace {
std::vector<int> allIndices(int T) {
  std::vector<int> v(T);
  for (int i = 0; i < T; ++i) v[i] = i;
  return v;
}
}  // namespace

Selection gemFilterSelect(Session& s, int layer, int k, int kernel) {
  const int L = s.model().spec.nLayer;
  if (layer < 0 || layer >= L)
    throw std::invalid_argument("GemFilter: layer " + std::to_string(layer) +
                                " is out of range (0.." + std::to_string(L - 1) + ")");
  const auto& ids = s.promptIds();
  if (ids.empty()) throw std::invalid_argument("GemFilter: empty prompt");
  std::vector<int32_t> pos(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) pos[i] = static_cast<int32_t>(i);
  CaptureOptions cap;
  cap.allLogits = false;
  cap.lastLayer = layer;
  auto tr = s.engine().run(ids, pos, {}, cap, {}, false);
  return gemFilter(qkView(*tr, layer, tr->nTokens - 1), k, kernel);  // the last query only
}

namespace {
// base with the masks of a PromptDistill continuation added (a query blocked by any mask is).
Interventions withMasks(Interventions base, const Interventions& distill) {
  base.masks.insert(base.masks.end(), distill.masks.begin(), distill.masks.end());
  return base;
}
}  // namespace

DistillResult promptDistill(Session& s, const std::vector<DistillStage>& stages, int kernel,
                            int lastQuery, const Interventions& base) {
  const int L = s.model().spec.nLayer;
  const auto& ids = s.promptIds();
  const int T = static_cast<int>(ids.size());
  if (T == 0) throw std::invalid_argument("PromptDistill: empty prompt");
  for (const auto& st : stages)
    if (st.layer >= L)
      throw std::invalid_argument("PromptDistill: stage layer " + std::to_string(st.layer) +
                                  " is out of range (0.." + std::to_string(L - 1) + ")");
  DistillResult r;
  std::vector<int> cand = allIndices(T), layers;
  Interventions iv = base;
  r.survivorsPerLayer.assign(L, T);
  for (size_t i = 0; i < stages.size(); ++i) {
    auto tr = runIds(s, ids, iv, true);
    Selection sel =
        promptDistillStage(qkView(*tr, stages[i].layer, cand.back()), cand, stages[i].k, kernel,
                           lastQuery);  // scores use the last candidate's query only
    r.keptPerStage.push_back(sel.kept);
    r.scoresPerStage.push_back(sel.scores);
    layers.push_back(stages[i].layer);
    for (int l = stages[i].layer + 1; l < L; ++l)
      r.survivorsPerLayer[l] = static_cast<int>(sel.kept.size());
    // The next stage selects on the continuation: every stage so far masks its dropped tokens.
    iv = withMasks(base, distillInterventions(T, layers, r.keptPerStage, 0, L));
    cand = sel.kept;
  }
  return r;
}

Interventions distillInterventions(int T, const std::vector<int>& stageLayers,
                                   const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                                   int nLayer) {
  if (stageLayers.size() != keptPerStage.size())
    throw std::invalid_argument("PromptDistill: one kept set per stage layer");
  if (kvTrim < -1) throw std::invalid_argument("PromptDistill: KV trim must be -1, 0 or a count");
  const int nTrim = kvTrim < 0 ? static_cast<int>(stageLayers.size()) : kvTrim;
  Interventions iv;
  std::vector<int> prev = allIndices(T);
  for (size_t s = 0; s < stageLayers.size(); ++s) {
    const int l = stageLayers[s];
    const auto& kept = keptPerStage[s];
    if (l < -1 || l >= nLayer || (s > 0 && l <= stageLayers[s - 1]))
      throw std::invalid_argument("PromptDistill: stage layers must increase within -1.." +
                                  std::to_string(nLayer - 1));
    if (!std::is_sorted(kept.begin(), kept.end()) ||
        !std::includes(prev.begin(), prev.end(), kept.begin(), kept.end()))
      throw std::invalid_argument("PromptDistill: stage " + std::to_string(s + 1) +
                                  " keeps tokens its previous stage dropped (or unsorted)");
    std::vector<int> drop;
    std::set_difference(prev.begin(), prev.end(), kept.begin(), kept.end(),
                        std::back_inserter(drop));
    if (!drop.empty()) {
      if (l + 1 < nLayer) iv.masks.push_back(Knockout{{}, drop, l + 1, nLayer, 0});
      if (static_cast<int>(s) < nTrim && l >= 0)
        iv.masks.push_back(Knockout{{}, drop, 0, l + 1, T});
    }
    prev = kept;
  }
  return iv;
}

Interventions reindexedInterventions(const Interventions& iv, const std::vector<int>& kept, int T) {
  const int n = static_cast<int>(kept.size());
  // New index of sequence index i: its place among the kept tokens (-1: dropped); generated
  // tokens (i >= T) follow the kept ones.
  std::vector<int> at(static_cast<size_t>(std::max(T, 0)), -1);
  for (int k = 0; k < n; ++k) {
    if (kept[k] < 0 || kept[k] >= T || (k > 0 && kept[k] <= kept[k - 1]))
      throw std::invalid_argument("kept indices must be ascending and inside the prompt");
    at[static_cast<size_t>(kept[k])] = k;
  }
  const auto index = [&](int i) { return i >= T ? n + (i - T) : i < 0 ? i : at[size_t(i)]; };
  // A start index (steering fromPos, knockout fromIndex): the first kept index at or after it.
  const auto start = [&](int i) {
    if (i < 0 || i >= T) return i < 0 ? i : n + (i - T);
    return static_cast<int>(std::lower_bound(kept.begin(), kept.end(), i) - kept.begin());
  };
  const auto tokens = [&](const std::vector<int>& v) {
    std::vector<int> out;
    for (int i : v)
      if (const int j = index(i); j >= 0) out.push_back(j);
    return out;
  };
  const auto knockout = [&](Knockout k) {
    k.from = tokens(k.from);
    k.to = tokens(k.to);
    if (k.fromIndex >= 0) k.fromIndex = start(k.fromIndex);
    return k;
  };
  Interventions out;
  out.router = iv.router;
  out.skips = iv.skips;
  for (Steering st : iv.steering) {
    st.fromPos = start(st.fromPos);
    out.steering.push_back(std::move(st));
  }
  if (iv.knockout) out.knockout = knockout(*iv.knockout);
  for (const Knockout& k : iv.masks) out.masks.push_back(knockout(k));
  for (Patch p : iv.patches)
    if (const int j = index(p.index); j >= 0) {
      p.index = j;
      out.patches.push_back(std::move(p));
    }
  return out;
}

Answers answerReindexed(Session& s, const std::vector<int>& kept, int maxTokens,
                        const Interventions& base) {
  const auto& ids = s.promptIds();
  Answers a;
  std::vector<int32_t> pos;
  for (size_t i = 0; i < ids.size(); ++i) pos.push_back(static_cast<int32_t>(i));
  a.full = greedy(
      s, ids, pos, [&](int) { return base; }, maxTokens);
  std::vector<int32_t> sub, subPos;
  for (int i : kept) {
    if (i < 0 || i >= static_cast<int>(ids.size()))
      throw std::invalid_argument("kept index out of range");
    sub.push_back(ids[i]);
    subPos.push_back(static_cast<int32_t>(subPos.size()));
  }
  const Interventions onKept = reindexedInterventions(base, kept, static_cast<int>(ids.size()));
  a.compressed = greedy(
      s, sub, subPos, [&](int) { return onKept; }, maxTokens);
  return a;
}

Interventions distilledInterventions(const Interventions& base, int T,
                                     const std::vector<int>& stageLayers,
                                     const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                                     int nLayer) {
  return withMasks(base, distillInterventions(T, stageLayers, keptPerStage, kvTrim, nLayer));
}

Answers answerDistilled(Session& s, const std::vector<int>& stageLayers,
                        const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                        int maxTokens, const Interventions& base) {
  const auto& ids = s.promptIds();
  const int T = static_cast<int>(ids.size()), L = s.model().spec.nLayer;
  const Interventions iv = distilledInterventions(base, T, stageLayers, keptPerStage, kvTrim, L);
  Answers a;
  std::vector<int32_t> pos;
  for (int i = 0; i < T; ++i) pos.push_back(i);
  a.full = greedy(
      s, ids, pos, [&](int) { return base; }, maxTokens);
  // The masks do not depend on the length, so every decode step reuses the cached prefix.
  a.compressed = greedy(
      s, ids, pos, [&](int) { return iv; }, maxTokens);
  return a;
}

Answers answerKeptPositions(Session& s, const std::vector<int>& kept, int fromLayer,
                            int maxTokens) {
  return answerDistilled(s, {fromLayer - 1}, {kept}, 0, maxTokens);
}

namespace {
// Per-kv-head kept sets of every layer as an eviction table for rows after the prompt.
HeadEviction evictionOf(const Trace& tr,
                        const std::function<std::vector<std::vector<int>>(int layer)>& keptOf,
                        std::vector<std::vector<std::vector<int>>>* keptPerLayer) {
  HeadEviction ev;
  ev.fromIndex = tr.nTokens;
  ev.length = tr.nTokens;
  ev.keep.resize(size_t(tr.nLayer));
  if (keptPerLayer) keptPerLayer->clear();
  for (int l = 0; l < tr.nLayer; ++l) {
    const auto kept = keptOf(l);
    auto& keep = ev.keep[size_t(l)];
    keep.assign(size_t(tr.nHeadKv) * tr.nTokens, 0);
    for (int g = 0; g < tr.nHeadKv; ++g)
      for (int j : kept[size_t(g)]) keep[size_t(g) * tr.nTokens + j] = 1;
    if (keptPerLayer) keptPerLayer->push_back(kept);
  }
  return ev;
}
}  // namespace

HeadEviction snapKvEviction(const Trace& tr, int capacity, int window, int kernel, bool maxPooling,
                            std::vector<std::vector<std::vector<int>>>* keptPerLayer) {
  const int group = tr.nHead / tr.nHeadKv;
  return evictionOf(
      tr,
      [&](int l) {
        // SnapKV reads the window's query rows only.
        const AttnRowFn rows = attnRows(tr, l, tr.nTokens - std::max(1, window));
        // A kv head's attention row: the sum of its query heads' rows.
        std::vector<float> tmp(size_t(tr.nTokens));
        const AttnRowFn kvRows = [&](int g, int i, float* row) {
          std::fill(row, row + tr.nTokens, 0.0f);
          for (int h = g * group; h < (g + 1) * group; ++h) {
            rows(h, i, tmp.data());
            for (int j = 0; j < tr.nTokens; ++j) row[j] += tmp[size_t(j)];
          }
        };
        return snapKv(kvRows, tr.nTokens, tr.nHeadKv, capacity, window, kernel, maxPooling)
            .keptPerHead;
      },
      keptPerLayer);
}

HeadEviction h2oEviction(const Trace& tr, int heavy, int recent,
                         std::vector<std::vector<std::vector<int>>>* keptPerLayer) {
  if (!tr.captured) throw std::invalid_argument("H2O: the trace was run without capture");
  const int group = tr.nHead / tr.nHeadKv, T = tr.nTokens;
  return evictionOf(
      tr,
      [&](int l) {
        const auto& cs = tr.layers[size_t(l)].colSum;  // [nHead, T]
        std::vector<float> kv(size_t(tr.nHeadKv) * T, 0.0f);
        for (int h = 0; h < tr.nHead; ++h)
          for (int j = 0; j < T; ++j) kv[size_t(h / group) * T + j] += cs[size_t(h) * T + j];
        return h2o(kv, T, tr.nHeadKv, heavy, recent).keptPerHead;
      },
      keptPerLayer);
}

Answers answerEvicted(Session& s, const HeadEviction& ev, int maxTokens) {
  const auto& ids = s.promptIds();
  const int T = static_cast<int>(ids.size());
  if (ev.fromIndex != T || ev.length != T)
    throw std::invalid_argument("eviction: made for a prompt of " + std::to_string(ev.length) +
                                " tokens, the prompt has " + std::to_string(T));
  std::vector<int32_t> pos;
  for (int i = 0; i < T; ++i) pos.push_back(i);
  Interventions iv;
  iv.eviction = ev;
  Answers a;
  a.full = greedy(
      s, ids, pos, [](int) { return Interventions{}; }, maxTokens);
  a.compressed = greedy(
      s, ids, pos, [&](int) { return iv; }, maxTokens);
  return a;
}

}  // namespace ll::rt::ana
