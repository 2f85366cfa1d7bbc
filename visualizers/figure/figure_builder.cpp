// Data extraction for each view's figure (runtime analysis -> HeatmapMatrix + labels + caption).
#include "visualizers/figure/figure_builder.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>

#include "runtime/analysis/lens.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/intervention_text.h"
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
  return figureCaption(req.modelName, req.prompt, tr.nTokens,
                       rt::describeInterventions(req.interventions, req.subset), what);
}

FigureSpec attention(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const int layer = req.layer < 0 ? tr.nLayer - 1 : req.layer;
  checkLayer(layer, tr.nLayer);
  if (req.head < -1 || req.head >= tr.nHead)
    throw std::invalid_argument("figure: --head must be in -1.." + std::to_string(tr.nHead - 1) +
                                " (-1 = mean over heads)");
  FigureSpec f;
  const int window = layer < int(tr.layerAttn.size()) ? tr.layerAttn[size_t(layer)].window : 0;
  f.matrix = {tr.nTokens, tr.nTokens, s.attentionMap(tr, layer, req.head), window};
  f.style.colormap = req.colormap;
  f.style.causalMask = true;
  f.style.maskWindow = window;
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

// Every layer x head map at the full prompt length. A tile shows its T x T map pooled by f (the
// mean of each f x f block's causal cells) so the grid stays within kMaxGridSide cells a side:
// memory stays bounded at any length, and only one head's map is held at a time.
constexpr int kMaxGridSide = 4096;

FigureSpec headGrid(const AttentionMapFn& map, const Trace& tr, const FigureRequest& req) {
  const int T = tr.nTokens, L = tr.nLayer, H = tr.nHead;
  const int side = std::max(L, H);
  int f = 1, P = T;  // pool factor, cells per tile side
  while (side * (P + 1) - 1 > kMaxGridSide && P > 1) {
    ++f;
    P = (T + f - 1) / f;
  }
  const int rows = L * (P + 1) - 1, cols = H * (P + 1) - 1;
  FigureSpec fig;
  fig.matrix.rows = rows;
  fig.matrix.cols = cols;
  fig.matrix.values.assign(size_t(rows) * cols, std::numeric_limits<float>::quiet_NaN());
  std::vector<double> sum(size_t(P) * P);
  std::vector<int> count(size_t(P) * P);
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      const auto m = map(l, h);
      if (m.size() != size_t(T) * T)
        throw std::invalid_argument("figure: an attention map of the wrong size");
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(count.begin(), count.end(), 0);
      for (int i = 0; i < T; ++i)
        for (int j = 0; j <= i; ++j) {  // causal: the upper triangle stays empty
          const size_t c = size_t(i / f) * P + size_t(j / f);
          sum[c] += m[size_t(i) * T + j];
          ++count[c];
        }
      for (int a = 0; a < P; ++a)
        for (int b = 0; b < P; ++b)
          if (count[size_t(a) * P + b] > 0)
            fig.matrix.values[size_t(l * (P + 1) + a) * cols + h * (P + 1) + b] =
                float(sum[size_t(a) * P + b] / count[size_t(a) * P + b]);
    }
  fig.style.colormap = req.colormap;
  fig.style.lo = 0.0f;
  fig.style.hi = 1.0f;
  // Gaps between tiles and the masked upper triangles print as paper white.
  fig.style.backgroundRgb[0] = fig.style.backgroundRgb[1] = fig.style.backgroundRgb[2] = 1.0f;
  fig.tileRows = L;
  fig.tileCols = H;
  for (int l = 0; l < L; ++l) fig.rowLabels << "layer " + QString::number(l);
  for (int h = 0; h < H; ++h) fig.colLabels << "head " + QString::number(h);
  const QString pooled = f > 1 ? " · each tile " + QString::number(T) + " tokens pooled " +
                                     QString::number(f) + "×" + QString::number(f) + " (mean)"
                               : QString();
  fig.title = "Attention heads · " + QString::number(L) + " layers × " + QString::number(H) +
              " heads · " + QString::number(T) + " tokens";
  fig.xTitle = "head (each tile: key token →)";
  fig.yTitle = "layer (each tile: query token ↓)";
  fig.colorbarTitle = "attention probability";
  fig.caption = caption(req, tr, "all layers, all heads · attention maps" + pooled);
  return fig;
}

// A .npy file written in pieces (f32, C order): the header first, then the data as it comes.
class NpyStream {
 public:
  NpyStream(const std::string& path, const std::vector<int64_t>& shape) : m_path(path) {
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < shape.size(); ++i) {
      h +=
          std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
      m_left *= uint64_t(shape[i]);
    }
    h += "), }";
    h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
    h.push_back('\n');
    m_f.open(path, std::ios::binary);
    const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    m_f.write(magic, 8);
    m_f.put(char(h.size() & 0xff));
    m_f.put(char(h.size() >> 8));
    m_f.write(h.data(), std::streamsize(h.size()));
    if (!m_f) throw std::runtime_error("cannot write " + path);
  }
  void write(const float* data, size_t n) {
    if (n > m_left) throw std::logic_error("npy stream: more data than the shape holds");
    m_f.write(reinterpret_cast<const char*>(data), std::streamsize(n * 4));
    m_left -= n;
    if (!m_f) throw std::runtime_error("write failed: " + m_path);
  }
  void finish() {
    if (m_left != 0) throw std::logic_error("npy stream: less data than the shape holds");
    m_f.close();
    if (!m_f) throw std::runtime_error("write failed: " + m_path);
  }

 private:
  std::string m_path;
  std::ofstream m_f;
  uint64_t m_left = 1;
};

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
  int kUsed = 0;
  std::string reason;
};

SelectionRun runSelection(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const rt::ana::SelectionOutcome o = rt::ana::runSelection(s, &tr, selectionRequestOf(req));
  SelectionRun r;
  r.layer = o.params.layer;
  r.method = rt::ana::selectionMethodKey(o.params.method);
  r.kept = o.kept();
  r.scores = o.tokenScores;
  r.params = o.params.record();
  r.kUsed = o.params.method == rt::ana::SelectionMethod::PromptDistill ? o.params.stages.back().k
                                                                       : o.params.k;
  r.reason = o.reason;
  return r;
}

FigureSpec selection(rt::Session& s, const Trace& tr, const FigureRequest& req) {
  const SelectionRun run = runSelection(s, tr, req);
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

QString figureCaption(const std::string& modelName, const std::string& prompt, int nTokens,
                      const std::string& interventions, const QString& what) {
  QString c = "LayerLens · model " + QString::fromStdString(modelName) +
              " · prompt sha256:" + QString::fromStdString(rt::promptHash(prompt)) + " (" +
              QString::number(nTokens) + " tokens) · " + what;
  if (!interventions.empty()) c += " · " + QString::fromStdString(interventions);
  return c;
}

FigureSpec buildFigure(rt::Session& session, const Trace& trace, const FigureRequest& req) {
  if (!trace.captured) throw std::invalid_argument("figure: the run has no captured layers");
  if (req.view == "attention") return attention(session, trace, req);
  if (req.view == "headgrid")
    return headGridFigure(trace, req,
                          [&](int l, int h) { return session.attentionMap(trace, l, h); });
  if (req.view == "lens") return lens(session, trace, req);
  if (req.view == "routing") return routing(session, trace, req);
  if (req.view == "selection") return selection(session, trace, req);
  throw std::invalid_argument("figure: unknown view '" + req.view +
                              "' (attention, headgrid, lens, routing, selection)");
}

rt::ana::SelectionRequest selectionRequestOf(const FigureRequest& req) {
  rt::ana::SelectionRequest r = req.selection;
  if (!req.method.empty()) {
    const auto m = rt::ana::parseSelectionMethod(req.method);
    if (!m)
      throw std::invalid_argument(
          "figure: selection --method must be gemfilter, snapkv, h2o or promptdistill");
    r.method = *m;
  }
  if (req.layer >= 0) r.layer = req.layer;
  return r;
}

rt::SelectionRecord selectionRecord(rt::Session& session, const Trace& trace,
                                    const FigureRequest& req) {
  const SelectionRun run = runSelection(session, trace, req);
  rt::SelectionRecord rec =
      rt::makeSelectionRecord(trace, run.kept, run.scores, run.method, run.params);
  rec.kUsed = run.kUsed;
  rec.reason = run.reason;
  rec.model = req.modelName;
  rec.promptHash = rt::promptHash(req.prompt);
  rec.prompt = req.prompt;
  return rec;
}

FigureSpec headGridFigure(const Trace& trace, const FigureRequest& req, const AttentionMapFn& map) {
  if (!trace.captured) throw std::invalid_argument("figure: the run has no captured layers");
  return headGrid(map, trace, req);
}

std::vector<int64_t> exportViewNpy(rt::Session& session, const Trace& tr, const FigureRequest& req,
                                   const std::string& path) {
  if (req.view == "residual" || req.view == "residuals" || req.view == "headgrid")
    return exportTraceNpy(tr, req, path,
                          [&](int l, int h) { return session.attentionMap(tr, l, h); });
  const FigureSpec f = buildFigure(session, tr, req);
  std::vector<int64_t> shape = {f.matrix.rows, f.matrix.cols};
  if (req.view == "selection") shape = {f.matrix.cols};
  rt::writeNpy(path, f.matrix.values.data(), shape);
  return shape;
}

std::vector<int64_t> exportTraceNpy(const Trace& tr, const FigureRequest& req,
                                    const std::string& path, const AttentionMapFn& map) {
  const int T = tr.nTokens;
  if (req.view == "residual") {
    const int layer = req.layer < 0 ? tr.nLayer - 1 : req.layer;
    checkLayer(layer, tr.nLayer);
    const std::vector<int64_t> shape = {T, tr.nEmbd};
    if (tr.layers[size_t(layer)].resid.size() != size_t(T) * tr.nEmbd)
      throw std::invalid_argument("figure: the run kept no residual stream for layer " +
                                  std::to_string(layer));
    rt::writeNpy(path, tr.layers[size_t(layer)].resid.data(), shape);
    return shape;
  }
  if (req.view == "residuals") {  // every layer, streamed out one layer at a time
    const std::vector<int64_t> shape = {tr.nLayer, T, tr.nEmbd};
    for (const auto& L : tr.layers)
      if (L.resid.size() != size_t(T) * tr.nEmbd)
        throw std::invalid_argument("figure: the run kept no residual stream for every layer");
    NpyStream out(path, shape);
    for (const auto& L : tr.layers) out.write(L.resid.data(), L.resid.size());
    out.finish();
    return shape;
  }
  if (req.view == "headgrid") {  // [L, H, T, T], one head's map in memory at a time
    const std::vector<int64_t> shape = {tr.nLayer, tr.nHead, T, T};
    NpyStream out(path, shape);
    for (int l = 0; l < tr.nLayer; ++l)
      for (int h = 0; h < tr.nHead; ++h) {
        const auto m = map(l, h);
        if (m.size() != size_t(T) * T)
          throw std::invalid_argument("figure: an attention map of the wrong size");
        out.write(m.data(), m.size());
      }
    out.finish();
    return shape;
  }
  throw std::invalid_argument("figure: " + req.view +
                              " needs the model (only headgrid, residual and residuals do not)");
}

}  // namespace ll::vis
