#include "runtime/analysis/attention_stats.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace ll::rt::ana {

namespace {
const LayerTrace& layerOf(const Trace& tr, int layer) {
  if (!tr.captured)
    throw std::invalid_argument("attention statistics: the trace was run without capture");
  if (layer < 0 || layer >= tr.nLayer)
    throw std::invalid_argument("attention statistics: layer " + std::to_string(layer) +
                                " is out of range");
  return tr.layers[layer];
}
}  // namespace

std::vector<float> headEntropy(const Trace& tr, int layer) {
  return layerOf(tr, layer).entropy;
}

std::vector<float> normalizedHeadEntropy(const Trace& tr, int layer) {
  std::vector<float> e = layerOf(tr, layer).entropy;
  const int T = tr.nTokens;
  int window = 0, sink = 0;
  if (layer < static_cast<int>(tr.layerAttn.size())) {
    window = tr.layerAttn[size_t(layer)].window;
    sink = tr.layerAttn[size_t(layer)].sinks.empty() ? 0 : 1;
  }
  for (int h = 0; h < tr.nHead; ++h)
    for (int i = 0; i < T; ++i) {
      // The row's outcomes: keys 0..i, the last `window` of them at a sliding-window layer, and
      // the sink (a softmax outcome of its own).
      const int n = (window > 0 ? std::min(i + 1, window) : i + 1) + sink;
      float& v = e[size_t(h) * T + i];
      v = n <= 1 ? 0.0f : static_cast<float>(v / std::log(double(n)));
    }
  return e;
}

std::vector<float> meanHeadEntropy(const Trace& tr, bool normalized) {
  std::vector<float> out;
  const int T = tr.nTokens;
  for (int l = 0; l < tr.nLayer; ++l) {
    auto e = normalized ? normalizedHeadEntropy(tr, l) : headEntropy(tr, l);
    for (int h = 0; h < tr.nHead; ++h) {
      double s = 0;
      int n = 0;
      for (int i = normalized ? 1 : 0; i < T; ++i, ++n) s += e[size_t(h) * T + i];
      out.push_back(n ? static_cast<float>(s / n) : 0.0f);
    }
  }
  return out;
}

std::vector<int32_t> inductionPrompt(int32_t bos, int n, int32_t lo, int32_t hi, uint64_t seed) {
  if (n <= 0 || hi <= lo) throw std::invalid_argument("induction prompt: bad length or id range");
  std::mt19937_64 rng(seed);
  std::vector<int32_t> x(n);
  for (auto& t : x) t = lo + static_cast<int32_t>(rng() % uint64_t(hi - lo));
  std::vector<int32_t> ids{bos};
  ids.insert(ids.end(), x.begin(), x.end());
  ids.insert(ids.end(), x.begin(), x.end());
  return ids;
}

std::vector<float> inductionScores(const AttnRowFn& rows, int T, int nHead, int n) {
  if (n <= 0 || T < n + 1)
    throw std::invalid_argument("induction score: prompt shorter than n + 1");
  std::vector<float> out(nHead, 0.0f), row(T);
  for (int h = 0; h < nHead; ++h) {
    double s = 0;
    int cnt = 0;
    for (int i = n - 1; i < T; ++i) {
      rows(h, i, row.data());
      s += row[i - n + 1];
      ++cnt;
    }
    out[h] = static_cast<float>(s / cnt);
  }
  return out;
}

std::vector<float> inductionScores(const Trace& tr, int n) {
  std::vector<float> out;
  for (int l = 0; l < tr.nLayer; ++l) {
    auto s = inductionScores(attnRows(tr, l), tr.nTokens, tr.nHead, n);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

std::vector<float> queryRow(const AttnRowFn& rows, int T, int nHead, int query, int head,
                            HeadCombine how) {
  if (query < 0 || query >= T) throw std::invalid_argument("query row: query out of range");
  if (head >= nHead) throw std::invalid_argument("query row: head out of range");
  std::vector<float> out(T, 0.0f), row(T);
  if (head >= 0) {
    rows(head, query, out.data());
    return out;
  }
  for (int h = 0; h < nHead; ++h) {
    rows(h, query, row.data());
    for (int j = 0; j < T; ++j) out[j] += row[j];
  }
  if (how == HeadCombine::Mean)
    for (float& v : out) v /= static_cast<float>(nHead);
  return out;
}

}  // namespace ll::rt::ana
