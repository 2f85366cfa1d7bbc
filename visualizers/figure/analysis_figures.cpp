// Figures of the experiment analyses from their runtime results (see analysis_figures.h).
#include "visualizers/figure/analysis_figures.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/analysis/attribution.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/selection_export.h"
#include "runtime/tokenizer/tokenizer.h"
#include "visualizers/qt/token_label.h"

namespace ll::vis {

namespace {

// Symmetric around 0 on the diverging colormap, so white is "no contribution / no effect".
void divergingRange(FigureSpec& f) {
  float m = 1e-6f;
  for (float v : f.matrix.values)
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  f.style.colormap = Colormap::Diverging;
  f.style.lo = -m;
  f.style.hi = m;
}

float maxOf(const std::vector<float>& v) {
  float m = 1e-6f;
  for (float x : v)
    if (std::isfinite(x)) m = std::max(m, x);
  return m;
}

QString tokenAt(const AnalysisLabels& l, int t) {
  return t >= 0 && t < l.tokens.size() ? l.tokens[t] : QString();
}

QString skipPartText(rt::SkipPart p) {
  return p == rt::SkipPart::Attention ? QStringLiteral("attention only")
         : p == rt::SkipPart::Mlp     ? QStringLiteral("MLP only")
                                      : QStringLiteral("whole layer");
}

QString layerRange(int begin, int end) {
  return end - begin == 1 ? QString::number(begin)
                          : QString::number(begin) + "-" + QString::number(end - 1);
}

QString flowLevelLabel(int level, int nLayer) {
  if (level == 2 * nLayer) return QStringLiteral("out");
  return (level % 2 ? QStringLiteral("L%1 mid") : QStringLiteral("L%1 in")).arg(level / 2);
}

QString patchMetricText(const rt::ana::PatchingResult& r, const AnalysisLabels& l) {
  if (r.request.metric == rt::ana::PatchMetric::Prob) return "p(\"" + l.target + "\")";
  return "logit(\"" + l.target + "\") − logit(\"" + l.other + "\")";
}

// Two rows (KL, entropy) over the columns, cells "value “top-1”".
void steerRows(FigureSpec& f, const std::vector<double>& kl, const std::vector<double>& ent,
               const QStringList& top1) {
  const int n = static_cast<int>(kl.size());
  f.matrix.rows = 2;
  f.matrix.cols = n;
  for (const auto* row : {&kl, &ent})
    for (double v : *row) f.matrix.values.push_back(static_cast<float>(v));
  for (int row = 0; row < 2; ++row)
    for (int c = 0; c < n; ++c) {
      QString t = QString::number(f.matrix.values[size_t(row) * n + c], 'g', 3);
      if (row == 0 && c < top1.size()) t += " “" + top1[c] + "”";
      f.cellText << t;
    }
  f.rowLabels << "KL(p_α || p_0)"
              << "entropy";
  f.style.lo = 0.0f;
  f.colorbarTitle = "nats";
}

}  // namespace

QString idLabel(const rt::Tokenizer* tok, int32_t id) {
  return tok ? tokenLabel(tok->piece(id)) : QString::number(id);
}

FigureSpec attributionFigure(const rt::ana::Attribution& a, const AnalysisLabels& l) {
  FigureSpec f;
  f.matrix.rows = a.nLayer;
  f.matrix.cols = a.nHead + 2;
  for (int layer = 0; layer < a.nLayer; ++layer) {
    for (int h = 0; h < a.nHead; ++h) f.matrix.values.push_back(float(a.head(layer, h)));
    f.matrix.values.push_back(float(a.attn[size_t(layer)]));
    f.matrix.values.push_back(float(a.mlp[size_t(layer)]));
    f.rowLabels << "layer " + QString::number(layer);
  }
  divergingRange(f);
  for (int h = 0; h < a.nHead; ++h) f.colLabels << "head " + QString::number(h);
  f.colLabels << "attention"
              << "MLP";
  QString what = "logit(\"" + l.target + "\")";
  if (a.other >= 0) what += " − logit(\"" + l.other + "\")";
  f.title = "Direct logit attribution · " + what + " at token " + QString::number(a.position);
  f.xTitle = "head, then the layer's attention and MLP outputs";
  f.yTitle = "layer";
  f.colorbarTitle = "logit contribution";
  return f;
}

QString attributionCaption(const rt::ana::Attribution& a) {
  return "direct logit attribution (final norm scale frozen" +
         QString(a.softcapped ? ", before the logit soft-cap" : "") + ") · sum " +
         QString::number(a.total(), 'g', 5) + " = logit " + QString::number(a.logit, 'g', 5) +
         " · embedding " + QString::number(a.embed, 'g', 3) + " · constant " +
         QString::number(a.bias, 'g', 3);
}

FigureSpec layerSkipFigure(const rt::ana::LayerSkipResult& r, const AnalysisLabels& l) {
  const int L = r.nLayer;
  FigureSpec f;
  f.matrix.rows = 2;
  f.matrix.cols = L;
  for (double v : r.kl) f.matrix.values.push_back(static_cast<float>(v));
  for (double v : r.klMean) f.matrix.values.push_back(static_cast<float>(v));
  f.style.lo = 0.0f;
  for (int row = 0; row < 2; ++row)
    for (int layer = 0; layer < L; ++layer) {
      QString t = QString::number(f.matrix.values[size_t(row) * L + layer], 'g', 3);
      if (row == 0 && r.top1Changed[layer]) t += QStringLiteral(" ▼");
      f.cellText << t;
    }
  f.rowLabels << "at #" + QString::number(r.position) + " " + tokenAt(l, r.position)
              << "prompt mean";
  for (int layer = 0; layer < L; ++layer) f.colLabels << QString::number(layer);
  f.title = "Layer skip · " + skipPartText(r.part) + " · KL(p || p_skip) (▼ top-1 changed)";
  f.xTitle = "layer skipped";
  f.colorbarTitle = "KL (nats)";
  return f;
}

FigureSpec latentFigure(const rt::ana::LatentLanguageResult& r, const AnalysisLabels& l) {
  const int n = static_cast<int>(r.a.size());
  FigureSpec f;
  f.matrix.rows = 2;
  f.matrix.cols = n;
  for (const auto* row : {&r.a, &r.b})
    for (double v : *row) f.matrix.values.push_back(static_cast<float>(v));
  f.style.lo = 0.0f;
  f.style.hi = maxOf(f.matrix.values);
  for (float v : f.matrix.values) f.cellText << QString::number(v, 'g', 2);
  f.rowLabels << "P(\"" + l.wordA + "\")"
              << "P(\"" + l.wordB + "\")";
  for (int c = 0; c < n; ++c)
    f.colLabels << (c == 0 ? QStringLiteral("emb") : QString::number(c - 1));
  f.title = "Latent language · logit-lens mass on \"" + l.wordA + "\" vs \"" + l.wordB +
            "\" after #" + QString::number(r.position) + " " + tokenAt(l, r.position);
  f.xTitle = "layer (emb = the token embeddings)";
  f.colorbarTitle = "probability";
  return f;
}

QString latentCaption(const rt::ana::LatentLanguageResult& r) {
  return "latent language at token " + QString::number(r.position) + " (final norm applied; " +
         QString::number(r.tokensA.size()) + " + " + QString::number(r.tokensB.size()) +
         " first tokens)";
}

FigureSpec contrastFigure(const rt::ana::ExpertContrastResult& r) {
  const int L = r.nLayer, E = r.nExpert;
  FigureSpec f;
  f.matrix.rows = L;
  f.matrix.cols = E;
  f.matrix.values = r.delta;
  divergingRange(f);
  for (int layer = 0; layer < L; ++layer)
    for (int e = 0; e < E; ++e) {
      const bool picked =
          std::find(r.picked.begin(), r.picked.end(), std::make_pair(layer, e)) != r.picked.end();
      f.cellText << QString::number(r.at(layer, e), 'f', 2) + (picked ? QStringLiteral(" ■") : "");
    }
  for (int layer = 0; layer < L; ++layer) f.rowLabels << "layer " + QString::number(layer);
  for (int e = 0; e < E; ++e) f.colLabels << QString::number(e);
  f.title = "Expert contrast · routing frequency, " + QString::number(r.nTask) + " task − " +
            QString::number(r.nNeutral) + " neutral prompts (■ Δ > " +
            QString::number(r.request.tau) + ")";
  f.xTitle = "expert";
  f.yTitle = "layer";
  f.colorbarTitle = "Δ frequency";
  return f;
}

QString contrastCaption(const std::string& modelName, const rt::ana::ExpertContrastResult& r) {
  const auto set = [](const std::vector<std::string>& prompts, int run) {
    std::string joined;
    for (const std::string& p : prompts) joined += p + "\n";
    return "sha256:" + QString::fromStdString(rt::promptHash(joined)) + " (" +
           QString::number(run) + " prompts)";
  };
  return "LayerLens · model " + QString::fromStdString(modelName) + " · expert contrast · task " +
         set(r.request.task, r.nTask) + " · neutral " + set(r.request.neutral, r.nNeutral) +
         " · τ " + QString::number(r.request.tau);
}

FigureSpec knockoutFigure(const rt::ana::KnockoutReadout& r, const AnalysisLabels& l) {
  const rt::ana::KnockoutResult& e = r.effect;
  FigureSpec f;
  f.matrix.rows = 1;
  if (r.sweep.empty()) {
    f.matrix.cols = 1;
    f.matrix.values = {static_cast<float>(e.relativeChange)};
    f.colLabels << "layers " + layerRange(e.layerBegin, e.layerEnd);
    f.xTitle = "knocked-out layers";
  } else {
    f.matrix.cols = static_cast<int>(r.sweep.size());
    for (double v : r.sweep) f.matrix.values.push_back(static_cast<float>(v));
    for (size_t layer = 0; layer < r.sweep.size(); ++layer) f.colLabels << QString::number(layer);
    f.xTitle = "window centre layer (window " + QString::number(r.window) + ")";
  }
  divergingRange(f);  // 0 (no effect) is the colormap's centre
  for (float v : f.matrix.values) f.cellText << QString::number(v, 'f', 1) + "%";
  f.rowLabels << "p(" + l.answer + ")";
  f.title = "Attention knockout · 100·(p_new − p_base)/p_base of \"" + l.answer + "\" · p_base " +
            QString::number(e.pBase, 'g', 3);
  f.colorbarTitle = "relative change (%)";
  return f;
}

FigureSpec steerSweepFigure(const rt::ana::SteeringSweepResult& r, bool layerSweep,
                            const AnalysisLabels& l) {
  FigureSpec f;
  const QString at =
      " · next token after #" + QString::number(r.position) + " " + tokenAt(l, r.position);
  if (!layerSweep) {
    steerRows(f, r.kl, r.entropy, l.top1);
    for (float a : r.alphas) f.colLabels << QString::number(a, 'g', 2);
    f.title = "Steering readouts · alpha sweep at layer " + QString::number(r.layer) + at;
    f.xTitle = "alpha (current " + QString::number(r.alpha, 'g', 3) + ")";
  } else {
    if (r.layerKl.empty()) throw std::invalid_argument("the layer sweep was not computed");
    steerRows(f, r.layerKl, r.layerEntropy, l.layerTop1);
    for (int layer = 0; layer < r.nLayer; ++layer)
      f.colLabels << QString::number(layer) + (layer == r.layer ? " ◆" : "");
    f.title = "Steering readouts · layer sweep at alpha " + QString::number(r.alpha, 'g', 3) + at;
    f.xTitle = "layer steered (◆ the vector's layer)";
  }
  f.style.hi = maxOf(f.matrix.values);
  return f;
}

QString steerSweepCaption(const rt::ana::SteeringSweepResult& r) {
  return "steering readouts at token " + QString::number(r.position) + " · vector at layer " +
         QString::number(r.layer) + " from #" + QString::number(r.fromPos) + " · alpha " +
         QString::number(r.alpha, 'g', 3) + " · α|v|/mean|h| " +
         QString::number(r.pushRatio[size_t(r.layer)], 'g', 3);
}

FigureSpec teacherFigure(const rt::ana::TeacherComparison& c, const AnalysisLabels& l) {
  const int T = static_cast<int>(c.jsdBits.size());
  FigureSpec f;
  f.matrix.rows = 2;
  f.matrix.cols = T;
  f.matrix.values.assign(c.normalized.begin(), c.normalized.end());
  f.matrix.values.insert(f.matrix.values.end(), c.jsdBits.begin(), c.jsdBits.end());
  f.style.lo = 0.0f;
  f.style.hi = maxOf(f.matrix.values);
  for (int row = 0; row < 2; ++row)
    for (int t = 0; t < T; ++t) {
      QString text = QString::number(f.matrix.values[size_t(row) * T + t], 'g', 2);
      if (row == 1 && c.quadrant[t] == rt::ana::Quadrant::Overconfident) text += " ▲";
      f.cellText << text;
    }
  f.rowLabels << "student H / ln|V|"
              << "JSD (bits)";
  for (int t = 0; t < T; ++t) f.colLabels << QString::number(t) + " " + tokenAt(l, t);
  f.title = "Student vs teacher " + l.teacher + " (▲ overconfident: low entropy, high JSD)";
  f.xTitle = "token";
  f.colorbarTitle = "value";
  return f;
}

FigureSpec flowFigure(const rt::ana::FlowGraph& g, int token, const AnalysisLabels& l) {
  const rt::ana::FlowRoutes r = rt::ana::flowRoutes(g, token);
  const int last = r.position, first = std::max(0, last - kFlowFigureTokens + 1);
  const int cols = last - first + 1, rows = g.nLevels();
  FigureSpec f;
  f.matrix.rows = rows;
  f.matrix.cols = cols;
  // Top row = the output, as in the panel.
  for (int lv = rows - 1; lv >= 0; --lv) {
    f.rowLabels << flowLevelLabel(lv, g.nLayer);
    for (int t = first; t <= last; ++t)
      f.matrix.values.push_back(static_cast<float>(r.nodeFlow[size_t(g.nodeId(lv, t))]));
  }
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  for (int t = first; t <= last; ++t)
    f.colLabels << (t < l.tokens.size() ? l.tokens[t] : QString::number(t));
  f.title = "Information-flow routes to #" + QString::number(last) + " " + tokenAt(l, last) +
            " · τ = " + QString::number(g.threshold);
  f.xTitle = "token";
  f.yTitle = "residual stream (layer input, after attention)";
  f.colorbarTitle = "route flow";
  return f;
}

QString flowCaption(const rt::ana::FlowGraph& g, int token) {
  return "flow routes to token " + QString::number(token) + " · threshold " +
         QString::number(g.threshold);
}

FigureSpec patchingFigure(const rt::ana::PatchingResult& r, const AnalysisLabels& l) {
  FigureSpec f;
  f.matrix.rows = r.nLayer;
  f.matrix.cols = r.nTokens;
  f.matrix.values = r.effect;
  divergingRange(f);
  for (int layer = 0; layer < r.nLayer; ++layer) f.rowLabels << "layer " + QString::number(layer);
  for (int t = 0; t < r.nTokens; ++t) f.colLabels << (t < l.tokens.size() ? l.tokens[t] : "?");
  f.title = "Activation patching · " +
            QString::fromStdString(rt::ana::patchComponentName(r.request.component)) + " · " +
            QString::fromStdString(rt::ana::patchDirectionName(r.request.direction)) + " · " +
            patchMetricText(r, l);
  f.xTitle = "token position";
  f.yTitle = "layer";
  f.colorbarTitle = "normalised effect";
  return f;
}

QString patchingCaption(const rt::ana::PatchingResult& r, const AnalysisLabels& l,
                        const QString& corruption) {
  return "activation patching (" + corruption + ") · " + patchMetricText(r, l) + ": clean " +
         QString::number(r.metricClean, 'g', 4) + ", corrupted " +
         QString::number(r.metricCorrupt, 'g', 4) + " · effect (m − m_r)/(m_c − m_r)";
}

}  // namespace ll::vis
