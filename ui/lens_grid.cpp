// The logit-lens grid: the column window, the row layout (embeddings, [after attention,] after
// each block) and its computation from one rt::ana::logitLens call over the window's tokens.
#include "ui/lens_grid.h"

#include "runtime/analysis/lens.h"
#include "runtime/api/trace.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <numeric>

namespace ll::ui {

LensWindow lensWindow(int nTokens, int token, int first, int maxCols) {
  const int cols = std::clamp(maxCols, 0, std::max(0, nTokens));
  if (cols <= 0) return {};
  const int lastStart = nTokens - cols;
  if (first < 0) {
    const int t = std::clamp(token, 0, nTokens - 1);
    first = (t / cols) * cols;
  }
  return {std::clamp(first, 0, lastStart), cols};
}

QString LensGrid::rowLabel(int row) const {
  if (row < 0 || row >= rowCount()) return {};
  const LensGridRow& r = rows[size_t(row)];
  if (r.layer < 0) return QStringLiteral("emb");
  return QStringLiteral("L%1%2").arg(r.layer).arg(r.mid ? QStringLiteral(" attn") : QString());
}

int LensGrid::rowOf(int layer, bool midRow) const {
  for (int r = 0; r < rowCount(); ++r)
    if (rows[size_t(r)].layer == layer && rows[size_t(r)].mid == midRow) return r;
  return -1;
}

LensGrid computeLensGrid(rt::ana::LensProjector& projector, const rt::Trace& tr,
                         const LensGridCache::Piece& piece, const LensGridSettings& st, int token) {
  return computeLensGrid(
      [&](const rt::ana::LensOptions& opt) { return rt::ana::logitLens(projector, tr, opt); }, tr,
      piece, st, token);
}

LensGrid computeLensGrid(const LensGridCache::Lens& lens, const rt::Trace& tr,
                         const LensGridCache::Piece& piece, const LensGridSettings& st, int token) {
  LensGrid g;
  g.finalNorm = st.finalNorm;
  g.mid = st.mid;
  g.nTokens = tr.nTokens;
  const int L = tr.nLayer;
  const double perToken =
      double(L + 1 + (st.mid ? L : 0)) * double(tr.nEmbd) * double(std::max(1, tr.nVocab));
  g.maxColumns = std::clamp(static_cast<int>(LensGrid::kBudget / std::max(1.0, perToken)), 1,
                            LensGrid::kMaxColumns);
  const LensWindow w = lensWindow(tr.nTokens, token, st.first, g.maxColumns);
  g.first = w.first;
  g.cols = w.cols;
  if (g.cols <= 0) return g;

  rt::ana::LensOptions opt;
  opt.finalNorm = st.finalNorm;
  opt.mid = st.mid;
  opt.topK = LensGrid::kTopK;
  opt.tokens.resize(size_t(g.cols));
  std::iota(opt.tokens.begin(), opt.tokens.end(), g.first);
  const rt::ana::LensResult r = lens(opt);
  const int K = r.topK, C = g.cols;
  g.topK = K;

  // Display rows, top to bottom, each taken from the lens rows (l + 1) or its mid points (l).
  g.rows.push_back({-1, false});
  for (int l = 0; l < L; ++l) {
    if (st.mid) g.rows.push_back({l, true});
    g.rows.push_back({l, false});
  }
  const size_t R = g.rows.size();
  g.prob.resize(R * C);
  g.entropy.resize(R * C);
  g.topIds.resize(R * C * K);
  g.topProbs.resize(R * C * K);
  for (size_t row = 0; row < R; ++row) {
    const LensGridRow& d = g.rows[row];
    const bool mid = d.mid;
    const size_t src = mid ? size_t(d.layer) : size_t(d.layer + 1);
    const auto& ent = mid ? r.midEntropy : r.entropy;
    const auto& ids = mid ? r.midTopIds : r.topIds;
    const auto& probs = mid ? r.midTopProbs : r.topProbs;
    for (int c = 0; c < C; ++c) {
      const size_t from = src * C + c, to = row * C + c;
      g.entropy[to] = ent[from];
      std::copy_n(ids.begin() + ptrdiff_t(from * K), K, g.topIds.begin() + ptrdiff_t(to * K));
      std::copy_n(probs.begin() + ptrdiff_t(from * K), K, g.topProbs.begin() + ptrdiff_t(to * K));
      g.prob[to] = probs[from * K];
    }
  }
  for (int32_t id : g.topIds)
    if (!g.text.contains(id)) g.text.insert(id, vis::tokenLabel(piece(id)));
  return g;
}

std::shared_ptr<const LensGrid> LensGridCache::get(rt::ana::LensProjector& projector,
                                                   const std::shared_ptr<const rt::Trace>& trace,
                                                   const Piece& piece, const LensGridSettings& st,
                                                   int token) {
  const rt::Trace* tr = trace.get();
  return get(
      [&](const rt::ana::LensOptions& opt) { return rt::ana::logitLens(projector, *tr, opt); },
      trace, piece, st, token);
}

std::shared_ptr<const LensGrid> LensGridCache::get(const Lens& lens,
                                                   const std::shared_ptr<const rt::Trace>& trace,
                                                   const Piece& piece, const LensGridSettings& st,
                                                   int token) {
  if (!trace) return std::make_shared<const LensGrid>();
  // The same run and projection: only the window can differ (a new selected token's page).
  if (m_grid && m_trace == trace && m_finalNorm == st.finalNorm && m_mid == st.mid) {
    const LensWindow w = lensWindow(trace->nTokens, token, st.first, m_grid->maxColumns);
    if (w.first == m_grid->first && w.cols == m_grid->cols) return m_grid;
  }
  m_grid = std::make_shared<const LensGrid>(computeLensGrid(lens, *trace, piece, st, token));
  m_trace = trace;
  m_finalNorm = st.finalNorm;
  m_mid = st.mid;
  return m_grid;
}

}  // namespace ll::ui
