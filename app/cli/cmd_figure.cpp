// `layerlens-cli figure MODEL --text T --view attention|headgrid|lens|routing|selection
// [--layer L --head H --method M --k K] --out FILE.{png,svg,pdf} [--scale S]`: a publication
// figure of one view (title, token axes, colour bar, caption with model, prompt hash, layer/head
// and method). GUI builds only: it renders through Qt and the offscreen Vulkan path. The experiment
// analyses draw theirs through their own commands' --figure (figure_out.h).
#include <QGuiApplication>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cmd_analysis_common.h"
#include "selection_options.h"
#include "visualizers/figure/figure_builder.h"

namespace ll::cli {
namespace {

struct FigureOpts {
  ana::ModelPrompt mp;
  vis::FigureRequest req;
  std::string out, data, colormap = "viridis";
  double scale = 2.0;
  std::function<void()> finishSelection;  // selection_options.h
};

int runFigure(FigureOpts o) {
  // Headless: no window system is needed to paint into an image, SVG or PDF.
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  int argc = 1;
  char name[] = "layerlens-cli";
  char* argv[] = {name, nullptr};
  QGuiApplication app(argc, argv);
  if (o.colormap == "viridis")
    o.req.colormap = vis::Colormap::Viridis;
  else if (o.colormap == "magma")
    o.req.colormap = vis::Colormap::Magma;
  else
    throw std::invalid_argument("figure: --colormap must be viridis or magma");
  auto s = ana::openSession(o.mp);
  auto tr = s->run();
  o.req.modelName = std::filesystem::path(o.mp.model).filename().string();
  o.req.prompt = o.mp.text;
  if (!o.mp.ids.empty()) o.req.prompt = "ids:" + o.mp.ids;
  if (o.req.view == "residual") {
    if (o.data.empty())
      throw std::invalid_argument("figure: --view residual needs --data FILE.npy");
    const auto shape = vis::exportViewNpy(*s, *tr, o.req, o.data);
    std::printf("wrote %s [%lld, %lld]\n", o.data.c_str(), (long long)shape[0],
                (long long)shape[1]);
    return 0;
  }
  const vis::FigureSpec spec = vis::buildFigure(*s, *tr, o.req);
  if (o.out.empty()) throw std::invalid_argument("figure: give --out FILE.{png,svg,pdf}");
  QString error, note;
  if (!vis::exportFigure(spec, QString::fromStdString(o.out), o.scale, &error, &note))
    throw std::runtime_error(error.toStdString());
  if (!note.isEmpty()) std::fprintf(stderr, "note: %s\n", note.toUtf8().constData());
  std::printf("wrote %s\n", o.out.c_str());
  const std::string ext = std::filesystem::path(o.data).extension().string();
  if (!o.data.empty() && o.req.view == "selection" && (ext == ".json" || ext == ".csv")) {
    const auto rec = vis::selectionRecord(*s, *tr, o.req);
    if (ext == ".json")
      rt::writeSelectionJson(o.data, rec);
    else
      rt::writeSelectionCsv(o.data, rec);
    std::printf("wrote %s (%zu tokens)\n", o.data.c_str(), rec.tokens.size());
  } else if (!o.data.empty()) {
    const auto shape = vis::exportViewNpy(*s, *tr, o.req, o.data);
    std::string dims;
    for (int64_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    std::printf("wrote %s [%s]\n", o.data.c_str(), dims.c_str());
  }
  return 0;
}

const RegisterCommand kFigure{Command{
    "figure", "export a publication figure of one view (PNG, SVG or PDF)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<FigureOpts>();
      ana::addModelPrompt(sub, o->mp);
      sub.add_option("--view", o->req.view,
                     "attention, headgrid, lens, routing or selection (the experiments write their "
                     "figures with --figure: attribute, skip, latent, contrast, knockout, "
                     "steer-sweep, compare, flow, patch)")
          ->capture_default_str();
      sub.add_option(
          "--layer", o->req.layer,
          "layer (default: last; routing: first MoE layer; selection: floor(13 L / 32))");
      sub.add_option("--head", o->req.head, "attention head (-1 = mean over heads)")
          ->capture_default_str();
      sub.add_option("--method", o->req.method,
                     "lens: prob|entropy; selection: gemfilter|snapkv|h2o|promptdistill");
      // The selection view's options and defaults are `select`'s (rt::ana::SelectionRequest).
      o->finishSelection = addSelectionOptions(sub, o->req.selection,
                                               {.methodAndLayer = false, .method = &o->req.method});
      sub.add_option("--colormap", o->colormap, "viridis or magma")->capture_default_str();
      sub.add_option("--out,-o", o->out, "output file (.png, .svg or .pdf)");
      sub.add_option("--data", o->data,
                     "also write the view's tensor as .npy (--view residual: only the .npy); "
                     "selection: .json/.csv too");
      sub.add_option("--scale", o->scale, "PNG scale 1-4")->capture_default_str();
      return [o] {
        if (o->req.view == "selection") o->finishSelection();  // writes o->req.selection
        return runFigure(*o);
      };
    }}};

}  // namespace
}  // namespace ll::cli
