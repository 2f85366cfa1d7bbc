// Data extraction for each view's figure (runtime analysis -> HeatmapMatrix + labels + caption).
#include "visualizers/figure/figure_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "runtime/analysis/lens.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::vis {

namespace {

using rt::Trace;

void checkLayer(int layer, int nLayer) {
  if (layer < 0 || layer >= nLayer)
    throw std::invalid_argument("figure: --layer must be in 0.." + std::to_string(nLayer - 1));
}

QStringList tokenLabels(const Trace& tr) {
  QStringList out;
  for (int t = 0; t < tr.nTokens; ++t)
    out << QString::number(t) + " " +
               tokenLabel(t < int(tr.pieces.size()) ? tr.pieces[size_t(t)] : std::string());
  return out;
}

QString caption(const FigureRequest& req, const Trace& tr, const QString& what) {
  QString c = "LayerLens · model " + QString::fromStdString(req.modelName) +
              " · prompt sha256:" + QString::fromStdString(rt::promptHash(req.prompt)) + " (" +
              QString::number(tr.nTokens) + " tokens) · " + what;
  return c;
}

FigureSpec attention(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const int layer = req.layer < 0 ? tr.nLayer - 1 : req.layer;
  checkLayer(layer, tr.nLayer);
  if (req.head < -1 || req.head >= tr.nHead)
    throw std::invalid_argument("figure: --head must be in -1.." + std::to_string(tr.nHead - 1) +
                                " (-1 = mean over heads)");
  FigureSpec f;
  f.matrix = {tr.nTokens, tr.nTokens, s.attentionMap(tr, layer, req.head)};
  f.style.colormap = req.colormap;
  f.style.causalMask = true;
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  const QString head = req.head < 0 ? "mean of heads" : "head " + QString::number(req.head);
  f.title = "Attention · layer " + QString::number(layer) + ", " + head;
  f.rowLabels = f.colLabels = tokenLabels(tr);
  f.yTitle = "query token";
  f.xTitle = "key token";
  f.colorbarTitle = "attention probability";
  f.caption = caption(req, tr, "layer " + QString::number(layer) + " " + head + " · attention");
  return f;
}

FigureSpec headGrid(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const int T = tr.nTokens, L = tr.nLayer, H = tr.nHead;
  const int rows = L * (T + 1) - 1, cols = H * (T + 1) - 1;
  if (rows > 4096 || cols > 4096)
    throw std::invalid_argument("figure: head grid of " + std::to_string(L) + "x" +
                                std::to_string(H) + " maps of " + std::to_string(T) +
                                " tokens is too large; use a shorter prompt");
  FigureSpec f;
  f.matrix.rows = rows;
  f.matrix.cols = cols;
  f.matrix.values.assign(size_t(rows) * cols, std::numeric_limits<float>::quiet_NaN());
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      const auto m = s.attentionMap(tr, l, h);
      for (int i = 0; i < T; ++i)
        for (int j = 0; j <= i; ++j)  // causal: the upper triangle stays empty
          f.matrix.values[size_t(l * (T + 1) + i) * cols + h * (T + 1) + j] = m[size_t(i) * T + j];
    }
  f.style.colormap = req.colormap;
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  // Gaps between tiles and the masked upper triangles print as paper white.
  f.style.backgroundRgb[0] = f.style.backgroundRgb[1] = f.style.backgroundRgb[2] = 1.0f;
  f.tileRows = L;
  f.tileCols = H;
  for (int l = 0; l < L; ++l) f.rowLabels << "layer " + QString::number(l);
  for (int h = 0; h < H; ++h) f.colLabels << "head " + QString::number(h);
  f.title =
      "Attention heads · " + QString::number(L) + " layers × " + QString::number(H) + " heads";
  f.xTitle = "head (each tile: key token →)";
  f.yTitle = "layer (each tile: query token ↓)";
  f.colorbarTitle = "attention probability";
  f.caption = caption(req, tr, "all layers, all heads · attention maps");
  return f;
}

FigureSpec lens(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const std::string method = req.method.empty() ? "prob" : req.method;
  if (method != "prob" && method != "entropy")
    throw std::invalid_argument("figure: lens --method must be prob or entropy");
  rt::ana::LensOptions opt;
  opt.topK = 1;
  opt.mid = false;
  const auto r = rt::ana::logitLens(s.engine(), tr, opt);
  const int nTok = int(r.tokens.size());
  FigureSpec f;
  f.matrix.rows = r.nRows;
  f.matrix.cols = nTok;
  f.matrix.values.resize(size_t(r.nRows) * nTok);
  for (int row = 0; row < r.nRows; ++row)
    for (int c = 0; c < nTok; ++c) {
      const size_t i = size_t(row) * nTok + c;
      f.matrix.values[i] = method == "prob" ? r.topProbs[i * size_t(r.topK)] : r.entropy[i];
      f.cellText << tokenLabel(s.model().tokenizer->piece(r.top1[i]));
    }
  f.style.colormap = method == "prob" ? req.colormap : Colormap::Magma;
  if (method == "prob") {
    f.style.lo = 0.0f;
    f.style.hi = 1.0f;
  }
  for (int row = 0; row < r.nRows; ++row)
    f.rowLabels << (row == 0 ? QString("embeddings") : "after layer " + QString::number(row - 1));
  QStringList toks = tokenLabels(tr);
  for (int c = 0; c < nTok; ++c) f.colLabels << toks.value(r.tokens[size_t(c)]);
  f.title = method == "prob" ? "Logit lens · top-1 probability (cells: top-1 token)"
                             : "Logit lens · entropy (cells: top-1 token)";
  f.xTitle = "token position";
  f.yTitle = "layer";
  f.colorbarTitle = method == "prob" ? "top-1 probability" : "entropy (nats)";
  f.caption =
      caption(req, tr, "all layers · logit lens (final norm) · " + QString::fromStdString(method));
  return f;
}

FigureSpec routing(rt::Session&, const Trace& tr, const FigureRequest& req) {
  if (tr.nExpert <= 0)
    throw std::invalid_argument("figure: routing needs a mixture-of-experts model");
  int layer = req.layer;
  if (layer < 0)
    for (int l = 0; l < tr.nLayer && layer < 0; ++l) {
      const auto& p = tr.layers[size_t(l)].routerProbs;
      const auto [mn, mx] = std::minmax_element(p.begin(), p.end());
      if (!p.empty() && *mx - *mn > 1e-3f) layer = l;  // first layer whose router decides
    }
  if (layer < 0) layer = 0;
  checkLayer(layer, tr.nLayer);
  const auto& probs = tr.layers[size_t(layer)].routerProbs;
  if (probs.size() != size_t(tr.nTokens) * tr.nExpert)
    throw std::invalid_argument("figure: layer " + std::to_string(layer) + " has no routing");
  FigureSpec f;
  f.matrix = {tr.nTokens, tr.nExpert, probs};
  f.style.colormap = req.colormap;
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  f.rowLabels = tokenLabels(tr);
  for (int e = 0; e < tr.nExpert; ++e) f.colLabels << "expert " + QString::number(e);
  f.title = "MoE routing · layer " + QString::number(layer) + " (top-" +
            QString::number(tr.nExpertUsed) + " of " + QString::number(tr.nExpert) + ")";
  f.xTitle = "expert";
  f.yTitle = "token";
  f.colorbarTitle = "router probability";
  f.caption = caption(req, tr, "layer " + QString::number(layer) + " · router softmax");
  return f;
}

struct SelectionRun {
  int layer = 0;
  std::string method;
  std::vector<int> kept;
  std::vector<float> scores;  // [T]
  std::map<std::string, std::string> params;
};

SelectionRun runSelection(const Trace& tr, const FigureRequest& req) {
  SelectionRun r;
  r.layer = req.layer < 0 ? tr.nLayer - 1 : req.layer;
  checkLayer(r.layer, tr.nLayer);
  r.method = req.method.empty() ? "gemfilter" : req.method;
  const auto qk = rt::ana::qkView(tr, r.layer);
  const int T = tr.nTokens;
  r.scores.assign(size_t(T), 0.0f);
  r.params = {{"layer", std::to_string(r.layer)},
              {"k", std::to_string(req.k)},
              {"kernel", std::to_string(req.kernel)}};
  if (r.method == "gemfilter") {
    auto g = rt::ana::gemFilter(qk, req.k, req.kernel);
    r.kept = g.kept;
    for (int t = 0; t < T && t < int(g.scores.size()); ++t)
      r.scores[size_t(t)] = g.scores[size_t(t)];
  } else if (r.method == "snapkv" || r.method == "h2o") {
    auto g = r.method == "snapkv" ? rt::ana::snapKv(rt::ana::attnRowsFromQk(qk), T, tr.nHead, req.k,
                                                    req.window, req.kernel)
                                  : rt::ana::h2o(tr.layers[size_t(r.layer)].colSum, T, tr.nHead,
                                                 std::max(0, req.k - req.window), req.window);
    r.kept = g.kept;
    // Mean per-head score; SnapKV scores cover the prefix [0, T - window) only.
    for (const auto& hs : g.scoresPerHead)
      for (size_t t = 0; t < hs.size() && t < size_t(T); ++t)
        r.scores[t] += hs[t] / float(g.scoresPerHead.size());
    r.params["window"] = std::to_string(req.window);
  } else {
    throw std::invalid_argument("figure: selection --method must be gemfilter, snapkv or h2o");
  }
  return r;
}

FigureSpec selection(rt::Session&, const Trace& tr, const FigureRequest& req) {
  const SelectionRun run = runSelection(tr, req);
  const int T = tr.nTokens, layer = run.layer;
  const std::string& method = run.method;
  const std::vector<int>& kept = run.kept;
  const std::vector<float>& scores = run.scores;
  QString params;
  for (const auto& [k, v] : run.params)
    if (k != "layer") params += (params.isEmpty() ? "" : " ") + QString::fromStdString(k + "=" + v);
  FigureSpec f;
  f.matrix = {1, T, scores};
  f.style.colormap = req.colormap;
  std::vector<uint8_t> isKept(size_t(T), 0);
  for (int k : kept)
    if (k >= 0 && k < T) isKept[size_t(k)] = 1;
  const QStringList toks = tokenLabels(tr);
  for (int t = 0; t < T; ++t) f.colLabels << (isKept[size_t(t)] ? "● " : "○ ") + toks[t];
  f.rowLabels << QString::fromStdString(method);
  f.title = "Token selection · " + QString::fromStdString(method) + " at layer " +
            QString::number(layer) + " · " + QString::number(kept.size()) + " of " +
            QString::number(T) + " kept (●)";
  f.xTitle = "token (● kept, ○ dropped)";
  f.colorbarTitle = "score";
  f.caption = caption(
      req, tr,
      "layer " + QString::number(layer) + " · " + QString::fromStdString(method) + " " + params);
  return f;
}

}  // namespace

QString tokenLabel(const std::string& piece) {
  if (piece.size() == 1 && (static_cast<unsigned char>(piece[0]) >= 0x80))
    return QString::asprintf("<0x%02X>", static_cast<unsigned char>(piece[0]));
  QString out;
  for (const QChar c : QString::fromUtf8(piece.data(), qsizetype(piece.size()))) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c.unicode() < 0x20)
      out += QString::asprintf("\\x%02x", c.unicode());
    else
      out += c;
  }
  return out;
}

FigureSpec buildFigure(rt::Session& session, const Trace& trace, const FigureRequest& req) {
  if (!trace.captured) throw std::invalid_argument("figure: the run has no captured layers");
  if (req.view == "attention") return attention(session, trace, req);
  if (req.view == "headgrid") return headGrid(session, trace, req);
  if (req.view == "lens") return lens(session, trace, req);
  if (req.view == "routing") return routing(session, trace, req);
  if (req.view == "selection") return selection(session, trace, req);
  throw std::invalid_argument("figure: unknown view '" + req.view +
                              "' (attention, headgrid, lens, routing, selection)");
}

rt::SelectionRecord selectionRecord(rt::Session&, const Trace& trace, const FigureRequest& req) {
  const SelectionRun run = runSelection(trace, req);
  rt::SelectionRecord rec =
      rt::makeSelectionRecord(trace, run.kept, run.scores, run.method, run.params);
  rec.model = req.modelName;
  rec.promptHash = rt::promptHash(req.prompt);
  return rec;
}

std::vector<int64_t> exportViewNpy(rt::Session& session, const Trace& tr, const FigureRequest& req,
                                   const std::string& path) {
  const int T = tr.nTokens;
  if (req.view == "residual") {
    const int layer = req.layer < 0 ? tr.nLayer - 1 : req.layer;
    checkLayer(layer, tr.nLayer);
    const std::vector<int64_t> shape = {T, tr.nEmbd};
    rt::writeNpy(path, tr.layers[size_t(layer)].resid.data(), shape);
    return shape;
  }
  if (req.view == "headgrid") {
    std::vector<float> all;
    all.reserve(size_t(tr.nLayer) * tr.nHead * T * T);
    for (int l = 0; l < tr.nLayer; ++l)
      for (int h = 0; h < tr.nHead; ++h) {
        const auto m = session.attentionMap(tr, l, h);
        all.insert(all.end(), m.begin(), m.end());
      }
    const std::vector<int64_t> shape = {tr.nLayer, tr.nHead, T, T};
    rt::writeNpy(path, all.data(), shape);
    return shape;
  }
  const FigureSpec f = buildFigure(session, tr, req);
  std::vector<int64_t> shape = {f.matrix.rows, f.matrix.cols};
  if (req.view == "selection") shape = {f.matrix.cols};
  rt::writeNpy(path, f.matrix.values.data(), shape);
  return shape;
}

}  // namespace ll::vis
