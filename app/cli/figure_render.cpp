// --figure in GUI builds: the experiment figures drawn by the GUI's builders
// (visualizers/figure/analysis_figures) and written through the same exporter, headless.
#include <QFileInfo>
#include <QGuiApplication>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "figure_out.h"
#include "runtime/analysis/attribution.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/intervention_text.h"
#include "runtime/api/session.h"
#include "visualizers/figure/analysis_figures.h"
#include "visualizers/figure/figure_builder.h"

namespace ll::cli::fig {

namespace {

// Painting text needs a QGuiApplication; headless, no window system is needed.
void ensureGuiApp() {
  if (QCoreApplication::instance()) return;
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  static int argc = 1;
  static char name[] = "layerlens-cli";
  static char* argv[] = {name, nullptr};
  static std::unique_ptr<QGuiApplication> app = std::make_unique<QGuiApplication>(argc, argv);
}

QString q(const std::string& s) {
  return QString::fromStdString(s);
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

bool figuresBuilt() {
  return true;
}

void writeFigure(const FigureOut& out, const FigureInput& in, FigureResult result) {
  if (out.path.empty()) return;
  if (!in.session) throw std::logic_error("writeFigure: no session");
  ensureGuiApp();
  const rt::Tokenizer* tok = in.session->model().tokenizer.get();
  vis::AnalysisLabels l;
  for (int32_t id : in.ids) l.tokens << vis::idLabel(tok, id);
  if (in.target >= 0) l.target = vis::idLabel(tok, in.target);
  if (in.other >= 0) l.other = vis::idLabel(tok, in.other);
  l.wordA = q(in.wordA);
  l.wordB = q(in.wordB);
  l.teacher = QFileInfo(q(in.teacher)).fileName();
  const auto labelIds = [&](const std::vector<int32_t>& ids) {
    QStringList out;
    for (int32_t id : ids) out << vis::idLabel(tok, id);
    return out;
  };

  vis::FigureSpec f;
  QString what;
  std::visit(Overloaded{
                 [&](const rt::ana::Attribution* r) {
                   f = vis::attributionFigure(*r, l);
                   what = vis::attributionCaption(*r);
                 },
                 [&](const rt::ana::LayerSkipResult* r) {
                   f = vis::layerSkipFigure(*r, l);
                   what = "layer skip at token " + QString::number(r->position);
                 },
                 [&](const rt::ana::LatentLanguageResult* r) {
                   f = vis::latentFigure(*r, l);
                   what = vis::latentCaption(*r);
                 },
                 [&](const rt::ana::ExpertContrastResult* r) {
                   f = vis::contrastFigure(*r);
                   what = vis::contrastCaption(std::filesystem::path(in.model).filename().string(),
                                               *r);
                 },
                 [&](const rt::ana::KnockoutReadout* r) {
                   l.answer = vis::idLabel(tok, r->effect.answer);
                   f = vis::knockoutFigure(*r, l);
                   what = "knockout effect";
                 },
                 [&](const rt::ana::SteeringSweepResult* r) {
                   l.top1 = labelIds(r->top1);
                   l.layerTop1 = labelIds(r->layerTop1);
                   f = vis::steerSweepFigure(*r, in.layerSweep, l);
                   what = vis::steerSweepCaption(*r);
                 },
                 [&](const rt::ana::TeacherComparison* r) {
                   f = vis::teacherFigure(*r, l);
                   what = "student vs teacher " + l.teacher;
                 },
                 [&](const rt::ana::FlowGraph* g) {
                   const int p = in.position < 0 ? g->nTokens + in.position : in.position;
                   f = vis::flowFigure(*g, p, l);
                   what = vis::flowCaption(*g, p);
                 },
                 [&](const rt::ana::PatchingResult* r) {
                   l.target = vis::idLabel(tok, r->request.target);
                   l.other = vis::idLabel(tok, r->request.other);
                   f = vis::patchingFigure(*r, l);
                   what = vis::patchingCaption(*r, l, q(in.corruption));
                 },
             },
             result);
  if (std::holds_alternative<const rt::ana::ExpertContrastResult*>(result))
    f.caption = what;  // of the prompt sets, not of one prompt
  else
    f.caption = vis::figureCaption(std::filesystem::path(in.model).filename().string(), in.prompt,
                                   static_cast<int>(in.ids.size()),
                                   rt::describeInterventions(in.interventions), what);
  QString error, note;
  if (!vis::exportFigure(f, q(out.path), out.scale, &error, &note))
    throw std::runtime_error(out.path + ": " + error.toStdString());
  if (!note.isEmpty()) std::fprintf(stderr, "note: %s\n", note.toUtf8().constData());
  std::fprintf(stderr, "wrote %s\n", out.path.c_str());
}

}  // namespace ll::cli::fig
