#include "runtime/analysis/selection_runs.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "runtime/analysis/run_helpers.h"
#include "runtime/api/session.h"

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
std::vector<int> dropped(int T, const std::vector<int>& kept) {
  std::vector<int> d;
  size_t j = 0;
  for (int i = 0; i < T; ++i) {
    if (j < kept.size() && kept[j] == i)
      ++j;
    else
      d.push_back(i);
  }
  return d;
}
std::vector<int> allIndices(int T) {
  std::vector<int> v(T);
  for (int i = 0; i < T; ++i) v[i] = i;
  return v;
}
Interventions blockDropped(int T, const std::vector<int>& kept, int fromLayer, int nLayer) {
  Interventions iv;
  auto d = dropped(T, kept);
  if (!d.empty() && fromLayer < nLayer) iv.knockout = Knockout{allIndices(T), d, fromLayer, nLayer};
  return iv;
}
}  // namespace

DistillResult promptDistill(Session& s, const std::vector<DistillStage>& stages, int kernel,
                            int lastQuery) {
  const int L = s.model().spec.nLayer;
  const auto& ids = s.promptIds();
  const int T = static_cast<int>(ids.size());
  if (T == 0) throw std::invalid_argument("PromptDistill: empty prompt");
  for (const auto& st : stages)
    if (st.layer >= L)
      throw std::invalid_argument("PromptDistill: stage layer " + std::to_string(st.layer) +
                                  " is out of range (0.." + std::to_string(L - 1) + ")");
  DistillResult r;
  std::vector<int> cand = allIndices(T);
  Interventions iv;
  r.survivorsPerLayer.assign(L, T);
  for (size_t i = 0; i < stages.size(); ++i) {
    auto tr = runIds(s, ids, iv, true);
    Selection sel =
        promptDistillStage(qkView(*tr, stages[i].layer), cand, stages[i].k, kernel, lastQuery);
    r.keptPerStage.push_back(sel.kept);
    r.scoresPerStage.push_back(sel.scores);
    for (int l = stages[i].layer + 1; l < L; ++l)
      r.survivorsPerLayer[l] = static_cast<int>(sel.kept.size());
    // The next stage's run sees only the survivors from the first stage's layer + 1 on (one
    // knockout window): exact for the second stage, an over-block of later drops after that.
    iv = blockDropped(T, sel.kept, stages[0].layer + 1, L);
    cand = sel.kept;
  }
  return r;
}

Answers answerReindexed(Session& s, const std::vector<int>& kept, int maxTokens) {
  const auto& ids = s.promptIds();
  Answers a;
  std::vector<int32_t> pos;
  for (size_t i = 0; i < ids.size(); ++i) pos.push_back(static_cast<int32_t>(i));
  a.full = greedy(
      s, ids, pos, [](int) { return Interventions{}; }, maxTokens);
  std::vector<int32_t> sub, subPos;
  for (int i : kept) {
    if (i < 0 || i >= static_cast<int>(ids.size()))
      throw std::invalid_argument("kept index out of range");
    sub.push_back(ids[i]);
    subPos.push_back(static_cast<int32_t>(subPos.size()));
  }
  a.compressed = greedy(
      s, sub, subPos, [](int) { return Interventions{}; }, maxTokens);
  return a;
}

Answers answerKeptPositions(Session& s, const std::vector<int>& kept, int fromLayer,
                            int maxTokens) {
  const auto& ids = s.promptIds();
  const int T = static_cast<int>(ids.size()), L = s.model().spec.nLayer;
  Answers a;
  std::vector<int32_t> pos;
  for (int i = 0; i < T; ++i) pos.push_back(i);
  a.full = greedy(
      s, ids, pos, [](int) { return Interventions{}; }, maxTokens);
  const auto drop = dropped(T, kept);
  a.compressed = greedy(
      s, ids, pos,
      [&](int n) {
        Interventions iv;
        if (!drop.empty() && fromLayer < L)
          iv.knockout = Knockout{allIndices(n), drop, fromLayer, L};
        return iv;
      },
      maxTokens);
  return a;
}

}  // namespace ll::rt::ana
