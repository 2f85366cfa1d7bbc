#include "runtime/analysis/token_selection.h"

#include "runtime/engine/attention_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "runtime/analysis/stats.h"

namespace ll::rt::ana {

double QkView::dot(int h, int i, int j) const {
  if (i < qRow0 || i >= T)
    throw std::out_of_range("QkView: query row " + std::to_string(i) + " is not in the view");
  const int group = nHead / nHeadKv, kh = h / group;
  const float* a = q + (size_t(i - qRow0) * nHead + h) * headDim;
  const float* b = k + (size_t(j) * nHeadKv + kh) * headDim;
  double s = 0.0;
  for (int c = 0; c < headDim; ++c) s += double(a[c]) * b[c];
  return s;
}

QkView qkView(const Trace& tr, int layer, int firstRow) {
  if (!tr.captured)
    throw std::invalid_argument("token selection: the trace was run without capture");
  if (layer < 0 || layer >= tr.nLayer)
    throw std::invalid_argument("token selection: layer " + std::to_string(layer) +
                                " is out of range (0.." + std::to_string(tr.nLayer - 1) + ")");
  const LayerTrace& L = tr.layers[layer];
  QkView v;
  firstRow = std::clamp(firstRow, 0, std::max(0, tr.nTokens - 1));
  const size_t qd = size_t(tr.nHead) * tr.headDim;
  if (firstRow >= tr.qFrom && L.qTail.size() == size_t(tr.nTokens - tr.qFrom) * qd) {
    v.q = L.qTail.data() + size_t(firstRow - tr.qFrom) * qd;
  } else {
    v.qOwned = std::make_shared<const std::vector<float>>(tr.queries(layer, firstRow, tr.nTokens));
    v.q = v.qOwned->data();
  }
  v.qRow0 = firstRow;
  v.k = L.k.data();
  v.T = tr.nTokens;
  v.nHead = tr.nHead;
  v.nHeadKv = tr.nHeadKv;
  v.headDim = tr.headDim;
  v.scale = tr.attnScale;
  return v;
}

AttnRowFn attnRows(const Trace& tr, int layer, int firstRow) {
  auto rows = std::make_shared<const AttentionRows>(tr, layer, firstRow);
  return [rows](int h, int i, float* row) { rows->row(h, i, row); };
}

namespace {
// avg_pool1d (count_include_pad) in double so cancellation in raw scores stays exact to f32.
std::vector<float> avgPoolD(const std::vector<double>& s, int kernel) {
  const int n = static_cast<int>(s.size()), pad = kernel / 2;
  std::vector<float> out(n);
  if (kernel <= 1) {
    for (int i = 0; i < n; ++i) out[i] = static_cast<float>(s[i]);
    return out;
  }
  for (int i = 0; i < n; ++i) {
    double acc = 0.0;
    for (int j = i - pad; j < i - pad + kernel; ++j)
      if (j >= 0 && j < n) acc += s[j];
    out[i] = static_cast<float>(acc / kernel);
  }
  return out;
}
std::vector<double> rawGem(const QkView& v) {
  std::vector<double> s(v.T, 0.0);
  for (int j = 0; j < v.T; ++j)
    for (int h = 0; h < v.nHead; ++h) s[j] += v.dot(h, v.T - 1, j);
  return s;
}
void checkView(const QkView& v) {
  if (v.T <= 0 || v.nHead <= 0 || v.nHeadKv <= 0 || v.nHead % v.nHeadKv != 0 || v.headDim <= 0)
    throw std::invalid_argument("token selection: bad Q/K shape");
}
std::vector<int> unionOf(const std::vector<std::vector<int>>& sets) {
  std::set<int> u;
  for (const auto& s : sets) u.insert(s.begin(), s.end());
  return {u.begin(), u.end()};
}
}  // namespace

std::vector<float> gemFilterRawScores(const QkView& v) {
  checkView(v);
  auto s = rawGem(v);
  return {s.begin(), s.end()};
}

Selection gemFilter(const QkView& v, int k, int kernel) {
  if (k <= 0) throw std::invalid_argument("GemFilter: k must be positive");
  checkView(v);
  Selection r;
  r.scores = avgPoolD(rawGem(v), kernel);
  r.kept = topKIndices(r.scores, std::min(k, v.T));
  return r;
}

Selection snapKv(const AttnRowFn& rows, int T, int nHead, int capacity, int window, int kernel,
                 bool maxPooling) {
  if (T <= 0 || nHead <= 0) throw std::invalid_argument("SnapKV: empty input");
  if (window <= 0 || capacity <= 0)
    throw std::invalid_argument("SnapKV: window and capacity must be positive");
  Selection r;
  r.keptPerHead.resize(nHead);
  r.scoresPerHead.resize(nHead);
  const int W = std::min(window, T), prefix = T - W;
  std::vector<float> row(T);
  for (int h = 0; h < nHead; ++h) {
    std::vector<double> acc(prefix, 0.0);
    for (int i = T - W; i < T; ++i) {
      rows(h, i, row.data());
      for (int j = 0; j < prefix; ++j) acc[j] += row[j];
    }
    std::vector<float> s = maxPooling ? maxPool(std::vector<float>(acc.begin(), acc.end()), kernel)
                                      : avgPoolD(acc, kernel);
    std::vector<int> kept;
    if (T <= capacity) {
      for (int j = 0; j < T; ++j) kept.push_back(j);
    } else {
      kept = topKIndices(s, std::max(0, capacity - W));
      for (int j = prefix; j < T; ++j) kept.push_back(j);
    }
    r.keptPerHead[h] = std::move(kept);
    r.scoresPerHead[h] = std::move(s);
  }
  r.kept = unionOf(r.keptPerHead);
  return r;
}

std::vector<float> columnSums(const AttnRowFn& rows, int T, int nHead) {
  std::vector<double> acc(size_t(nHead) * T, 0.0);
  std::vector<float> row(T);
  for (int h = 0; h < nHead; ++h)
    for (int i = 0; i < T; ++i) {
      rows(h, i, row.data());
      for (int j = 0; j <= i; ++j) acc[size_t(h) * T + j] += row[j];
    }
  return {acc.begin(), acc.end()};
}

Selection h2o(const std::vector<float>& colSum, int T, int nHead, int heavy, int recent) {
  if (colSum.size() != size_t(nHead) * T)
    throw std::invalid_argument("H2O: column sums have the wrong size");
  if (heavy < 0 || recent < 0) throw std::invalid_argument("H2O: negative budget");
  Selection r;
  r.keptPerHead.resize(nHead);
  r.scoresPerHead.resize(nHead);
  const int rec = std::min(recent, T), older = T - rec;
  for (int h = 0; h < nHead; ++h) {
    std::vector<float> s(colSum.begin() + size_t(h) * T, colSum.begin() + size_t(h + 1) * T);
    std::vector<int> kept = topKIndices(s, std::min(heavy, older), older);
    for (int j = older; j < T; ++j) kept.push_back(j);
    r.keptPerHead[h] = std::move(kept);
    r.scoresPerHead[h] = std::move(s);
  }
  r.kept = unionOf(r.keptPerHead);
  return r;
}

Selection promptDistillStage(const QkView& v, const std::vector<int>& candidates, int k, int kernel,
                             int lastQuery) {
  checkView(v);
  if (candidates.empty()) throw std::invalid_argument("PromptDistill: no candidate tokens");
  if (k < 0) throw std::invalid_argument("PromptDistill: negative k");
  for (size_t c = 0; c < candidates.size(); ++c)
    if (candidates[c] < 0 || candidates[c] >= v.T || (c && candidates[c] <= candidates[c - 1]))
      throw std::invalid_argument("PromptDistill: candidates must be ascending indices in range");
  const int n = static_cast<int>(candidates.size());
  const int e = candidates.back();
  if (lastQuery < 0) lastQuery = e;
  std::vector<double> s(n, 0.0);
  int nOld = 0;  // candidates before lastQuery compete; the others are kept
  for (int c = 0; c < n; ++c) {
    const int j = candidates[c];
    if (j >= lastQuery) continue;
    ++nOld;
    double acc = 0.0;
    for (int h = 0; h < v.nHead; ++h) acc += v.dot(h, e, j) * v.scale;
    s[c] = acc / v.nHead;
  }
  Selection r;
  r.scores = avgPoolD(s, kernel);
  for (int c : topKIndices(r.scores, k, nOld)) r.kept.push_back(candidates[c]);
  for (int c = nOld; c < n; ++c) r.kept.push_back(candidates[c]);
  return r;
}

std::vector<std::vector<int>> gemFilterLayerSweep(const Trace& tr, int k, int kernel) {
  std::vector<std::vector<int>> out;
  for (int l = 0; l < tr.nLayer; ++l)
    out.push_back(gemFilter(qkView(tr, l, tr.nTokens - 1), k, kernel).kept);
  return out;
}

}  // namespace ll::rt::ana
