#include "ui/head_grid_rows.h"

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
  const int group = H / tr.nHeadKv, qd = H * D, kd = tr.nHeadKv * D, off = T - G;

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
  std::vector<float> logits(static_cast<size_t>(T));
  for (int l = 0; l < tr.nLayer; ++l) {
    const auto& L = tr.layers[l];
    const bool haveQk = L.k.size() >= size_t(T) * kd;
    // Queries of the rows computed here (stored tail, or recomputed for a cold block).
    const std::vector<float> qRows =
        haveQk && keep < T ? tr.queries(l, keep, T) : std::vector<float>();
    for (int h = 0; h < H; ++h) {
      const int kh = h / std::max(1, group);
      float* dst = out.data() + (static_cast<size_t>(l) * H + h) * G * G;
      for (int i = off; i < keep; ++i) {
        const float* src = prev->values.data() +
                           ((static_cast<size_t>(l) * H + h) * prevG + (i - prevOff)) * prevG;
        std::copy(src + (off - prevOff), src + (off - prevOff) + (i - off + 1),
                  dst + static_cast<size_t>(i - off) * G);
      }
      if (!haveQk) continue;
      for (int i = keep; i < T; ++i) {
        const float* q = qRows.data() + static_cast<size_t>(i - keep) * qd + h * D;
        float mx = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          const float* k = L.k.data() + static_cast<size_t>(j) * kd + kh * D;
          float d = 0.0f;
          for (int c = 0; c < D; ++c) d += q[c] * k[c];
          logits[j] = d * tr.attnScale;
          mx = std::max(mx, logits[j]);
        }
        // Only the kept block's probabilities are needed, but the normaliser spans every key.
        float z = 0.0f;
        for (int j = 0; j <= i; ++j) {
          logits[j] = std::exp(logits[j] - mx);
          z += logits[j];
        }
        float* row = dst + static_cast<size_t>(i - off) * G;
        for (int j = off; j <= i; ++j) row[j - off] = logits[j] / z;
      }
    }
  }
  return out;
}

}  // namespace ll::ui
