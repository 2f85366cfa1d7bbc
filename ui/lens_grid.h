// The logit-lens grid of the Logit lens panel and of File > Export "lens": its request
// (LensGridSettings, part of the ViewState), its result (LensGrid, part of the Snapshot: one
// computation for the panel and the export) and the worker-side cache that computes it.
#pragma once

#include <QHash>
#include <QString>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ll::rt {
struct Trace;
namespace ana {
class LensProjector;
struct LensOptions;
struct LensResult;
}  // namespace ana
}  // namespace ll::rt

namespace ll::ui {

// What colours a cell: the top-1 token's probability, or the entropy of the distribution.
enum class LensValue { TopProb, Entropy };

struct LensGridSettings {
  bool finalNorm = true;  // false: the BuPO variant (no final norm before the LM head)
  bool mid = false;       // also the point after attention (+ residual) inside each layer
  LensValue value = LensValue::TopProb;
  int first = -1;  // first token column; -1: the page of columns holding the selected token
  bool operator==(const LensGridSettings&) const = default;
};

// One row of the grid: layer -1 is the token embeddings; otherwise the residual after block
// `layer`, or (mid) after its attention.
struct LensGridRow {
  int layer = -1;
  bool mid = false;
};

// The first column and the number of columns a grid shows.
struct LensWindow {
  int first = 0;
  int cols = 0;
};

// At most maxCols of nTokens columns. first >= 0: from there (moved back so the window stays
// full); first < 0: the page (a multiple of maxCols, the last page ending at the last token) that
// holds `token`, so clicking inside the grid does not move it.
LensWindow lensWindow(int nTokens, int token, int first, int maxCols);

struct LensGrid {
  static constexpr int kMaxColumns = 128;  // columns projected per run, at most
  static constexpr int kTopK = 5;          // tokens kept per cell (hover)
  // Multiply-adds (rows x nEmbd x nVocab) one grid may spend; past it a large model gets fewer
  // columns, so a keystroke never waits for thousands of LM-head products.
  static constexpr double kBudget = 2e9;

  bool finalNorm = true, mid = false;  // what it was computed with
  int first = 0, cols = 0;             // token columns [first, first + cols)
  int nTokens = 0;
  int maxColumns = kMaxColumns;  // the window's size for this model (kBudget may lower it)
  int topK = 0;
  std::vector<LensGridRow> rows;     // top to bottom: embeddings, [L0 attn,] L0, ...
  std::vector<float> prob, entropy;  // [rows, cols]: top-1 probability, entropy (nats)
  std::vector<int32_t> topIds;       // [rows, cols, topK]
  std::vector<float> topProbs;       // [rows, cols, topK]
  QHash<int32_t, QString> text;      // vis::tokenLabel of every id in topIds (literal text)

  bool empty() const { return cols <= 0 || rows.empty(); }
  int rowCount() const { return static_cast<int>(rows.size()); }
  size_t at(int row, int col) const { return size_t(row) * size_t(cols) + size_t(col); }
  const std::vector<float>& values(LensValue v) const {
    return v == LensValue::Entropy ? entropy : prob;
  }
  int32_t top1(int row, int col) const { return topIds[at(row, col) * size_t(topK)]; }
  QString label(int32_t id) const { return text.value(id, QStringLiteral("?")); }
  // "emb", "L3", "L3 attn".
  QString rowLabel(int row) const;
  // The display row of a point (-1 when the grid does not show it).
  int rowOf(int layer, bool mid) const;
};

// Worker side (AnalysisJob): the grid of the last trace and settings, reused while neither
// changes (a click or a hover-driven selection does not project again).
// The lens itself is a function of its options, so one code path serves a local trace (the
// projector) and a trace on a server (its Lens call).
class LensGridCache {
 public:
  using Piece = std::function<std::string(int32_t)>;
  using Lens = std::function<rt::ana::LensResult(const rt::ana::LensOptions&)>;
  std::shared_ptr<const LensGrid> get(rt::ana::LensProjector& projector,
                                      const std::shared_ptr<const rt::Trace>& trace,
                                      const Piece& piece, const LensGridSettings& settings,
                                      int token);
  // lens computes the lens of `trace` for the options.
  std::shared_ptr<const LensGrid> get(const Lens& lens,
                                      const std::shared_ptr<const rt::Trace>& trace,
                                      const Piece& piece, const LensGridSettings& settings,
                                      int token);
  void clear() { *this = {}; }

 private:
  std::shared_ptr<const rt::Trace> m_trace;
  bool m_finalNorm = true, m_mid = false;
  std::shared_ptr<const LensGrid> m_grid;
};

// The grid of `trace` for the settings (the window around `token`), projected through the LM head.
LensGrid computeLensGrid(rt::ana::LensProjector& projector, const rt::Trace& trace,
                         const LensGridCache::Piece& piece, const LensGridSettings& settings,
                         int token);
// The same through a lens function (the trace supplies the shapes only).
LensGrid computeLensGrid(const LensGridCache::Lens& lens, const rt::Trace& trace,
                         const LensGridCache::Piece& piece, const LensGridSettings& settings,
                         int token);

}  // namespace ll::ui
