// The export views: a figure (FigureSpec) and the data file of each view from the snapshot the
// panels show, the full-length exports that run on the worker, and a snapshot as a session.
#include "ui/export_actions.h"

#include <QFileInfo>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "runtime/api/intervention_text.h"
#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "ui/analysis_labels.h"
#include "ui/analysis_source.h"
#include "ui/attribution_export.h"
#include "ui/export_contrast.h"
#include "ui/export_flow.h"
#include "ui/export_knockout.h"
#include "ui/export_latent.h"
#include "ui/export_layer_skip.h"
#include "ui/export_patching.h"
#include "ui/export_steer_sweep.h"
#include "ui/export_teacher.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "visualizers/figure/figure_builder.h"

namespace ll::ui {

namespace {

// The interventions the snapshot's run used (router edits, knockout) and steering when it is on
// (it shapes the steered continuation), for captions.
rt::Interventions interventionsOf(const Snapshot& s) {
  rt::Interventions iv = panelInterventions(s.state);
  if (s.state.steering.enabled) {
    rt::Steering st;
    st.layer = s.steerLayer;
    st.alpha = s.state.steering.alpha;
    st.fromPos = s.state.steering.fromPos;
    iv.steering.push_back(st);
  }
  return iv;
}

QString captionOf(const Snapshot& s, const QString& modelName, const QString& what) {
  return vis::figureCaption(modelName.toStdString(), s.state.prompt, s.nTokens,
                            rt::describeInterventions(interventionsOf(s)), what);
}

// A token selection as exported (JSON, CSV, sessions): the layer it ran at (the shared
// selection's when it follows it), the prompt text next to its hash, and the k the methods ran
// with beside the reason the method keeps more (the sentence the Token selection panel shows).
rt::SelectionRecord selectionRecordOf(const Snapshot& s, const std::string& model) {
  const int layer = s.state.selection.layer < 0 ? s.layer : s.state.selection.layer;
  // The parameters the method ran with (window, recent tokens, kernel, stages: the request's
  // resolved values, as the CLI and figures record them), k as the panel asked for it.
  std::map<std::string, std::string> params = s.selectionParams;
  params["k"] = std::to_string(s.state.selection.k);
  params["layer"] = std::to_string(layer);
  if (s.state.selection.layer < 0) params["layer_follows_selection"] = "1";
  auto rec = rt::makeSelectionRecord(*s.trace, s.kept, s.scores,
                                     rt::ana::selectionMethodKey(s.state.selection.method), params);
  rec.model = model;
  rec.promptHash = rt::promptHash(s.state.prompt);
  rec.prompt = s.state.prompt;
  rec.kUsed = s.selectionK;
  rec.reason = s.selectionReason.toStdString();
  return rec;
}

QStringList labels(const Snapshot& s, int from = 0) {
  QStringList out;
  for (int t = from; t < s.tokens.size(); ++t) out << QString::number(t) + " " + s.tokens[t];
  return out;
}

QString headText(int head) {
  return head == -1   ? QString("mean of heads")
         : head == -2 ? QString("sum of heads")
                      : "head " + QString::number(head);
}

[[noreturn]] void noData(const QString& view) {
  throw std::invalid_argument("no " + view.toStdString() + " data in the current view");
}

// The logit-lens grid as the Logit lens panel shows it: the same rows, window of columns, final
// norm setting and coloured value, cells naming the top-1 token.
void lensFigure(const Snapshot& s, const QString& modelName, vis::FigureSpec& f) {
  const LensGrid* g = s.lensGrid.get();
  if (!g || g->empty()) noData("lens");
  const LensValue value = s.state.lensGrid.value;
  const bool entropy = value == LensValue::Entropy;
  f.matrix.rows = g->rowCount();
  f.matrix.cols = g->cols;
  f.matrix.values = g->values(value);
  f.style.colormap = entropy ? vis::Colormap::Magma : vis::Colormap::Viridis;
  f.style.lo = 0.0f;
  f.style.hi =
      entropy ? std::max(1e-6f, *std::max_element(f.matrix.values.begin(), f.matrix.values.end()))
              : 1.0f;
  for (int r = 0; r < g->rowCount(); ++r) {
    f.rowLabels << g->rowLabel(r);
    for (int c = 0; c < g->cols; ++c) f.cellText << g->label(g->top1(r, c));
  }
  for (int c = 0; c < g->cols; ++c)
    f.colLabels << QString::number(g->first + c) + " " + s.tokens.value(g->first + c);
  const QString what = entropy ? "entropy" : "top-1 probability";
  const QString range = "tokens " + QString::number(g->first) + "–" +
                        QString::number(g->first + g->cols - 1) + " of " +
                        QString::number(g->nTokens);
  const QString norm = g->finalNorm ? "final norm" : "no final norm (BuPO)";
  f.title = "Logit lens · " + what + " (cells: top-1 token)";
  f.xTitle = "token position";
  f.yTitle = "layer";
  f.colorbarTitle = entropy ? "entropy (nats)" : "top-1 probability";
  f.caption = captionOf(s, modelName,
                        "logit lens (" + norm + ") · " + what + " · " + range +
                            (g->mid ? " · rows after attention" : ""));
}

// Throws std::invalid_argument naming the view when the snapshot has no result for it.
template <class T>
const T& resultOf(const std::shared_ptr<const T>& r, const QString& view) {
  if (!r) noData(view);
  return *r;
}

bool isExperimentView(const QString& view) {
  return view == "layerskip" || view == "latent" || view == "contrast" || view == "knockout" ||
         view == "steeralpha" || view == "steerlayer" || view == "teacher" || view == "flow" ||
         view == "patching";
}

// The experiment panels' figures: the builders the CLI's --figure uses, with the snapshot's labels
// and a caption naming the model, the prompt and the interventions.
vis::FigureSpec experimentFigure(const Snapshot& s, const QString& view, const QString& modelName) {
  const vis::AnalysisLabels l = analysisLabels(s, view);
  vis::FigureSpec f;
  QString what;
  if (view == "layerskip") {
    const auto& r = resultOf(s.layerSkip, view);
    f = vis::layerSkipFigure(r, l);
    what = "layer skip at token " + QString::number(r.position);
  } else if (view == "latent") {
    const auto& r = resultOf(s.latent, view);
    f = vis::latentFigure(r, l);
    what = vis::latentCaption(r);
  } else if (view == "contrast") {
    f = vis::contrastFigure(resultOf(s.contrast, view));
    f.caption = vis::contrastCaption(modelName.toStdString(), *s.contrast);
    return f;
  } else if (view == "knockout") {
    f = vis::knockoutFigure(resultOf(s.knockoutEffect, view), l);
    what = "knockout effect";
  } else if (view == "steeralpha" || view == "steerlayer") {
    const auto& r = resultOf(s.steerSweep, view);
    f = vis::steerSweepFigure(r, view == "steerlayer", l);
    what = vis::steerSweepCaption(r);
  } else if (view == "teacher") {
    if (!s.trace) noData(view);
    f = vis::teacherFigure(resultOf(s.teacher, view), l);
    what = "student vs teacher " + s.teacherName;
  } else if (view == "flow") {
    const auto& g = resultOf(s.flow, view);
    f = vis::flowFigure(g, s.token, l);
    what = vis::flowCaption(g, s.token);
  } else if (view == "patching") {
    const auto& r = resultOf(s.patching, view);
    f = vis::patchingFigure(r, l);
    what = vis::patchingCaption(r, l, patchingCorruption(s));
  }
  f.caption = captionOf(s, modelName, what);
  return f;
}

}  // namespace

QStringList exportViews() {
  return {"attention",   "headgrid",   "lens",    "routing",  "selection",
          "attribution", "layerskip",  "latent",  "contrast", "knockout",
          "steeralpha",  "steerlayer", "teacher", "flow",     "patching"};
}

QStringList dataViews() {
  return exportViews() << "residual"
                       << "residuals";
}

bool jsonView(const QString& view) {
  return view == "attribution" || view == "layerskip" || view == "latent" || view == "contrast" ||
         view == "knockout" || view == "steeralpha" || view == "steerlayer" || view == "teacher" ||
         view == "flow";
}

bool needsFullExport(const QString& view, const QString& path) {
  const bool npy = QFileInfo(path).suffix().toLower() == "npy";
  return view == "headgrid" || (npy && (view == "residual" || view == "residuals"));
}

bool exportFullView(MainWindow* window, const QString& view, const QString& path,
                    std::function<void(const QString&)> done, QString* error) {
  const SnapshotPtr s = window->shownSnapshot();
  const QString suffix = QFileInfo(path).suffix().toLower();
  vis::FigureFileFormat format;
  QString why;
  if (!s || !s->trace)
    why = QObject::tr("nothing to export yet: open a model first");
  else if (!needsFullExport(view, path))
    why = QObject::tr("%1 is exported from the shown snapshot").arg(view);
  else if (suffix != "npy" && !vis::figureFileFormat(path, &format))
    why = QObject::tr("%1: use .npy, .png, .svg or .pdf").arg(path);
  if (!why.isEmpty()) {
    if (error) *error = why;
    return false;
  }
  vis::FigureRequest req;
  req.view = view.toStdString();
  req.layer = s->layer;
  req.head = s->head >= 0 ? s->head : -1;
  req.modelName = QFileInfo(window->controller()->modelInfo().path).fileName().toStdString();
  req.prompt = s->state.prompt;
  req.interventions = interventionsOf(*s);
  std::shared_ptr<const rt::Trace> trace = s->trace;  // kept alive until the task has run
  auto spec = std::make_shared<vis::FigureSpec>();
  const bool npy = suffix == "npy";
  // Only what the trace and its attention maps give (headgrid, residual, residuals): the source
  // serves them whether the model runs here or on a server.
  const bool residuals = view == "residual" || view == "residuals";
  window->controller()->runSourceTask(
      [trace, req, spec, npy, path, residuals](AnalysisSource& source) {
        const AnalysisSource::ExportReads reads = source.exportReads(trace, residuals);
        if (npy)
          vis::exportTraceNpy(*reads.trace, req, path.toStdString(), reads.attentionMap);
        else
          *spec = vis::headGridFigure(*reads.trace, req, reads.attentionMap);
      },
      [spec, npy, path, done](const QString& taskError) {
        QString err = taskError;
        if (err.isEmpty() && !npy) vis::exportFigure(*spec, path, 2.0, &err);
        if (done) done(err);
      });
  return true;
}

vis::FigureSpec figureFromSnapshot(const Snapshot& s, const QString& view,
                                   const QString& modelName) {
  vis::FigureSpec f;
  const int T = s.nTokens;
  if (view == "attention") {
    if (!s.attention || s.attention->rows != T) noData(view);
    f.matrix = *s.attention;
    f.style.causalMask = true;
    f.style.maskWindow = s.attention->maskWindow;
    f.rowLabels = f.colLabels = labels(s);
    f.title = "Attention · layer " + QString::number(s.layer) + ", " + headText(s.head);
    f.xTitle = "key token";
    f.yTitle = "query token";
    f.colorbarTitle = "attention";
    f.caption =
        captionOf(s, modelName,
                  "layer " + QString::number(s.layer) + " " + headText(s.head) + " · attention");
  } else if (view == "headgrid") {
    const int G = s.gridTokens, L = s.nLayer, H = s.nHead;
    if (G <= 0 || s.headGrid.size() != size_t(L) * H * G * G) noData(view);
    const int rows = L * (G + 1) - 1, cols = H * (G + 1) - 1;
    f.matrix.rows = rows;
    f.matrix.cols = cols;
    f.matrix.values.assign(size_t(rows) * cols, std::numeric_limits<float>::quiet_NaN());
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < G; ++i)
          for (int j = 0; j <= i; ++j)
            f.matrix.values[size_t(l * (G + 1) + i) * cols + h * (G + 1) + j] =
                s.headGrid[((size_t(l) * H + h) * G + i) * G + j];
    f.style.lo = 0.0f;
    f.style.hi = 1.0f;
    // Gaps between tiles and the masked upper triangles print as paper white.
    f.style.backgroundRgb[0] = f.style.backgroundRgb[1] = f.style.backgroundRgb[2] = 1.0f;
    f.tileRows = L;
    f.tileCols = H;
    for (int l = 0; l < L; ++l) f.rowLabels << "layer " + QString::number(l);
    for (int h = 0; h < H; ++h) f.colLabels << "head " + QString::number(h);
    f.title = "Attention heads · last " + QString::number(G) + " tokens";
    f.xTitle = "head";
    f.yTitle = "layer";
    f.colorbarTitle = "attention probability";
    f.caption =
        captionOf(s, modelName, "all layers, all heads · last " + QString::number(G) + " tokens");
  } else if (view == "lens") {
    lensFigure(s, modelName, f);
  } else if (view == "attribution") {
    if (!s.attribution) noData(view);
    f = vis::attributionFigure(*s.attribution, analysisLabels(s, view));
    f.caption = captionOf(s, modelName, vis::attributionCaption(*s.attribution));
  } else if (view == "routing") {
    const int E = s.nExpert;
    if (E <= 0 || s.routing.size() != size_t(s.nLayer) * T * E) noData(view);
    f.matrix.rows = T;
    f.matrix.cols = E;
    f.matrix.values.assign(s.routing.begin() + ptrdiff_t(size_t(s.layer) * T * E),
                           s.routing.begin() + ptrdiff_t(size_t(s.layer + 1) * T * E));
    f.style.lo = 0.0f;
    f.style.hi = 1.0f;
    f.rowLabels = labels(s);
    for (int e = 0; e < E; ++e) f.colLabels << "expert " + QString::number(e);
    f.title = "MoE routing · layer " + QString::number(s.layer);
    f.xTitle = "expert";
    f.yTitle = "token";
    f.colorbarTitle = "router probability";
    f.caption = captionOf(s, modelName, "layer " + QString::number(s.layer) + " · router");
  } else if (isExperimentView(view)) {
    f = experimentFigure(s, view, modelName);
  } else if (view == "selection") {
    if (s.scores.size() != size_t(T) || T == 0) noData(view);
    f.matrix = {1, T, s.scores};
    std::vector<uint8_t> kept(size_t(T), 0);
    for (int k : s.kept)
      if (k >= 0 && k < T) kept[size_t(k)] = 1;
    const QStringList toks = labels(s);
    for (int t = 0; t < T; ++t) f.colLabels << (kept[size_t(t)] ? "● " : "○ ") + toks[t];
    const QString method = methodName(s.state.selection.method);
    f.rowLabels << method;
    f.title = "Token selection · " + method + " · " + QString::number(s.kept.size()) + " of " +
              QString::number(T) + " kept (●)";
    f.xTitle = "token (● kept, ○ dropped)";
    f.colorbarTitle = "score";
    f.caption = captionOf(s, modelName, method + " k=" + QString::number(s.state.selection.k));
  } else {
    throw std::invalid_argument("unknown view " + view.toStdString());
  }
  return f;
}

rt::SessionState sessionFromSnapshot(const Snapshot& s, const QString& modelPath) {
  rt::SessionState st;
  st.modelPath = modelPath.toStdString();
  st.prompt = s.state.prompt;
  st.interventions.router = s.state.routerEdits;
  st.view.layer = s.layer;
  st.view.head = s.head;
  st.view.method = rt::ana::selectionMethodKey(s.state.selection.method);
  st.view.k = s.state.selection.k;
  st.view.extra["token"] = std::to_string(s.token);
  if (s.trace && s.scores.size() == size_t(s.nTokens) && s.nTokens > 0) {
    st.selections.push_back(selectionRecordOf(s, QFileInfo(modelPath).fileName().toStdString()));
  }
  return st;
}

bool exportViewData(const Snapshot& s, const QString& view, const QString& path,
                    const QString& modelName, QString* error) {
  try {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (view == "selection" && (suffix == "json" || suffix == "csv")) {
      if (!s.trace) throw std::invalid_argument("no run to export");
      const auto rec = selectionRecordOf(s, modelName.toStdString());
      if (suffix == "json")
        rt::writeSelectionJson(path.toStdString(), rec);
      else
        rt::writeSelectionCsv(path.toStdString(), rec);
      return true;
    }
    if (view == "attribution" && (suffix == "json" || suffix == "npy")) {
      if (!s.attribution) noData(view);
      writeAttributionData(*s.attribution, path);
      return true;
    }
    if (view == "layerskip") {  // .json: the document `layerlens-cli skip` writes
      writeLayerSkipData(s, path);
      return true;
    }
    if (view == "latent") {  // .json: the document `layerlens-cli latent` writes
      writeLatentData(s, path);
      return true;
    }
    if (view == "contrast") {  // .json: the document `layerlens-cli contrast` writes
      writeContrastData(s, path);
      return true;
    }
    if (view == "knockout") {
      writeKnockoutData(s, path);
      return true;
    }
    if (view == "steeralpha" || view == "steerlayer") {  // .json: `layerlens-cli steer-sweep`
      writeSteerSweepData(s, view, path);
      return true;
    }
    if (view == "teacher") {  // .json: `layerlens-cli compare`
      writeTeacherData(s, path);
      return true;
    }
    if (view == "flow") {  // .json: the document `layerlens-cli flow` writes
      writeFlowData(s, path);
      return true;
    }
    if (suffix != "npy")
      throw std::invalid_argument(
          "use .npy (or .json/.csv for selections, .json for the analyses the CLI writes as JSON)");
    if (view == "patching") {  // the array `layerlens-cli patch --out` writes
      writePatchingData(s, path);
      return true;
    }
    if (view == "headgrid") {
      const int64_t G = s.gridTokens;
      if (G <= 0) noData(view);
      rt::writeNpy(path.toStdString(), s.headGrid.data(), {s.nLayer, s.nHead, G, G});
      return true;
    }
    if (view == "routing") {
      if (s.nExpert <= 0) noData(view);
      rt::writeNpy(path.toStdString(), s.routing.data(), {s.nLayer, s.nTokens, s.nExpert});
      return true;
    }
    const vis::FigureSpec f = figureFromSnapshot(s, view, modelName);
    rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
    return true;
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + QString::fromStdString(e.what());
    return false;
  }
}

}  // namespace ll::ui
