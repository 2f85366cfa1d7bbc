#include "ui/head_grid_rows.h"

#include <memory>

#include "runtime/engine/attention_rows.h"

#include <algorithm>
#include <cmath>

namespace ll::ui {

int commonRows(const rt::Trace& a, const rt::Trace& b) {
  const size_t n = std::min({a.ids.size(), b.ids.size(), size_t(a.nTokens), size_t(b.nTokens)});
  size_t i = 0;
  while (i < n && a.ids[i] == b.ids[i] &&
         (a.positions.size() <= i || b.positions.size() <= i || a.positions[i] == b.positions[i]))
    ++i;
  return static_cast<int>(i);
}

std::vector<float> headGridRows(const rt::Trace& tr, int G, const HeadGridCache* prev,
                                const rt::Interventions& iv) {
  const int T = tr.nTokens, H = tr.nHead, D = tr.headDim;
  G = std::clamp(G, 0, T);
  std::vector<float> out(static_cast<size_t>(tr.nLayer) * H * G * G, 0.0f);
  if (!tr.captured || G == 0 || H == 0 || tr.nHeadKv == 0) return out;
  const int kd = tr.nHeadKv * D, off = T - G;

  // Rows [off, keep) come from prev when its block covers them and every key they need.
  int keep = off;
  int prevOff = 0, prevG = 0;
  if (prev && prev->trace && prev->iv == iv && prev->trace->nLayer == tr.nLayer &&
      prev->trace->nHead == H && prev->values.size() == size_t(tr.nLayer) * H * prev->G * prev->G) {
    prevG = prev->G;
    prevOff = prev->trace->nTokens - prevG;
    const int common = std::min(commonRows(*prev->trace, tr), prev->trace->nTokens);
    if (off >= prevOff && common > off) keep = common;
  }
  std::vector<float> row(static_cast<size_t>(T));
  for (int l = 0; l < tr.nLayer; ++l) {
    const auto& L = tr.layers[l];
    const bool haveQk = L.k.size() >= size_t(T) * kd;
    // The rows computed here, as the pass computed them (interventions, window, soft-cap, sinks).
    std::unique_ptr<rt::AttentionRows> rows;
    if (haveQk && keep < T) rows = std::make_unique<rt::AttentionRows>(tr, l, keep);
    for (int h = 0; h < H; ++h) {
      float* dst = out.data() + (static_cast<size_t>(l) * H + h) * G * G;
      for (int i = off; i < keep; ++i) {
        const float* src = prev->values.data() +
                           ((static_cast<size_t>(l) * H + h) * prevG + (i - prevOff)) * prevG;
        std::copy(src + (off - prevOff), src + (off - prevOff) + (i - off + 1),
                  dst + static_cast<size_t>(i - off) * G);
      }
      if (!rows) continue;
      for (int i = keep; i < T; ++i) {
        rows->row(h, i, row.data());
        std::copy(row.begin() + off, row.begin() + i + 1, dst + static_cast<size_t>(i - off) * G);
      }
    }
  }
  return out;
}

}  // namespace ll::ui
