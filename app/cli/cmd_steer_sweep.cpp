// `layerlens-cli steer-sweep`: the steering readouts of ALGORITHMS.md §8 for one vector (.npy f32
// [n_embd], or a llama.cpp control-vector .gguf's direction.<layer>): KL(p_alpha || p_0), entropy
// and top-1 at one position as alpha sweeps, the same per steered layer at --alpha, and
// alpha ||v|| / mean ||h_l|| per layer; the JSON the GUI's "steerread" data export writes. With
// --server the vector is read here and the sweep runs there (the named analysis "steer-sweep").
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/control_vector.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/npy_io.h"

namespace ll::cli {
namespace {

struct SweepOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string vector, out, alphas;
  bool noLayers = false;
  rt::ana::SteeringSweepRequest rq;
  fig::FigureOut figure, layerFigure;
};

std::vector<float> parseAlphas(const std::string& s) {
  std::vector<float> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    float a = 0;
    try {
      a = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !std::isfinite(a))
      throw std::invalid_argument("--alphas: '" + item + "' is not a number");
    out.push_back(a);
  }
  if (out.empty()) throw std::invalid_argument("--alphas: no values");
  return out;
}

std::vector<float> readVector(const std::string& path, int layer, int nEmbd) {
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") {
    const auto cv = rt::ana::readControlVector(path, nEmbd);
    const auto it = cv.layers.find(layer);
    if (it == cv.layers.end())
      throw std::invalid_argument(path + " has no direction." + std::to_string(layer) +
                                  " (give --layer)");
    return it->second;
  }
  rt::NpyF32 v = rt::readNpyF32(path);
  if (static_cast<int64_t>(v.data.size()) != nEmbd)
    throw std::invalid_argument(path + ": steering vector has " + std::to_string(v.data.size()) +
                                " values, the model's n_embd is " + std::to_string(nEmbd));
  return std::move(v.data);
}

int sweepCommand(const SweepOpts& o) {
  rt::ana::SteerSweepCall call;
  rt::ana::SteeringSweepRequest& rq = call.request;
  rq = o.rq;
  if (!o.alphas.empty()) rq.alphas = parseAlphas(o.alphas);
  rq.layerSweep = !o.noLayers;
  if (rq.fromPos < 0) throw std::invalid_argument("--from: the start index is negative");
  ana::refuseFigureRemote(o.server, o.figure.path);
  ana::refuseFigureRemote(o.server, o.layerFigure.path, "--layer-figure");
  fig::checkFigureOut(o.figure);
  fig::checkFigureOut(o.layerFigure, "--layer-figure");
  if (!o.layerFigure.path.empty() && o.noLayers)
    throw std::invalid_argument("--layer-figure needs the layer sweep (drop --no-layer-sweep)");
  ana::writeTextOut(o.out, [&] {
    auto s = ana::openPrompted(o.mp, o.server);
    const auto& spec = s->spec();
    if (rq.layer < 0) rq.layer = rt::ana::defaultSteeringLayer(spec.nLayer);
    // Read here, sent with the request: a server never opens the client's file.
    call.vector = readVector(o.vector, rq.layer, spec.nEmbd);
    const rt::ana::AnalysisOutput out = s->analyze(call);
    if (const rt::Session* ls = s->local()) {
      const auto& r = std::get<rt::ana::SteeringSweepResult>(out.result);
      fig::FigureInput in = fig::figureInput(*ls, o.mp.model, o.mp.text, o.mp.ids);
      fig::writeFigure(o.figure, in, &r);
      in.layerSweep = true;
      fig::FigureOut layer = o.layerFigure;
      layer.scale = o.figure.scale;  // one --figure-scale for both
      fig::writeFigure(layer, in, &r);
    }
    return out.document;
  });
  return 0;
}

RegisterCommand reg{
    {"steer-sweep",
     "steering readouts: KL(p_alpha || p_0), entropy and top-1 as alpha sweeps and per steered "
     "layer (JSON --out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SweepOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--vector", o->vector,
                      "steering vector: .npy f32 [n_embd] or a control-vector .gguf "
                      "(direction.<layer>)")
           ->required();
       sub.add_option("--layer", o->rq.layer, rt::ana::kSweepLayerHelp);
       sub.add_option("--alpha", o->rq.alpha, rt::ana::kSweepAlphaHelp);
       sub.add_option("--from", o->rq.fromPos, rt::ana::kSweepFromHelp);
       sub.add_option("--position", o->rq.position, rt::ana::kSweepPositionHelp);
       sub.add_option("--alphas", o->alphas, rt::ana::kSweepAlphasHelp);
       sub.add_flag("--no-layer-sweep", o->noLayers, rt::ana::kSweepNoLayersHelp);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "the alpha sweep");
       fig::addFigureOption(sub, o->layerFigure, "--layer-figure", "the layer sweep");
       return [o] { return sweepCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
