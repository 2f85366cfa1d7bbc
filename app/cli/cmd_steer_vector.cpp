// `layerlens-cli steer-vector`: builds a steering vector (ALGORITHMS.md §8) by contrastive mean
// difference (--pos FILE --neg FILE, one prompt per line) or concept injection (--concept WORD
// --baseline FILE of baseline words, --template "Tell me about {word}"), writes it as .npy f32
// [n_embd] or, for a .gguf --out, as a llama.cpp control vector (direction.<layer>). --from-gguf
// converts a control vector's layer to .npy. --readout ALPHA (with a prompt) adds the readouts of
// §8: α‖v‖/mean‖h_l‖, and over later layers and --gen generated tokens ‖h_steered − h_ref‖,
// cos(h_steered, h_ref), cos(h_steered − h_ref, v).
#include <cmath>

#include "cmd_analysis_common.h"
#include "runtime/analysis/control_vector.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/steering.h"
#include "runtime/api/npy_io.h"

namespace ll::cli {
namespace {

struct SteerOpts {
  ana::ModelPrompt mp;
  std::string pos, neg, conceptWord, baseline, tmpl = "Tell me about {word}", out, fromGguf;
  int layer = -1, from = 0, gen = 8;
  float readoutAlpha = 0.0f;
};

std::string arch(const rt::Session& s) {
  return s.model().spec.arch;
}

int steerCommand(const SteerOpts& o) {
  if (o.out.empty()) throw std::invalid_argument("steer-vector: give --out FILE (.npy or .gguf)");
  auto s = ana::openSession(o.mp, true);
  const int L = s->model().spec.nLayer, d = s->model().spec.nEmbd;
  const int layer = o.layer >= 0 ? o.layer : rt::ana::defaultSteeringLayer(L);
  std::vector<float> v;
  nlohmann::json j;
  if (!o.fromGguf.empty()) {
    auto cv = rt::ana::readControlVector(o.fromGguf, d);
    auto it = cv.layers.find(layer);
    if (it == cv.layers.end())
      throw std::invalid_argument("steer-vector: " + o.fromGguf + " has no direction." +
                                  std::to_string(layer));
    v = it->second;
    j["method"] = "import";
  } else if (!o.conceptWord.empty()) {
    if (o.baseline.empty())
      throw std::invalid_argument("steer-vector: --concept needs --baseline FILE");
    rt::ana::ConceptInput in;
    in.word = rt::ana::tokenize(*s, rt::ana::fillTemplate(o.tmpl, o.conceptWord));
    for (const auto& w : ana::readLines(o.baseline))
      in.baselines.push_back(rt::ana::tokenize(*s, rt::ana::fillTemplate(o.tmpl, w)));
    v = rt::ana::conceptVector(*s, layer, in);
    j["method"] = "concept";
  } else {
    if (o.pos.empty() || o.neg.empty())
      throw std::invalid_argument(
          "steer-vector: give --pos and --neg, or --concept and --baseline");
    std::vector<std::vector<int32_t>> p, n;
    for (const auto& t : ana::readLines(o.pos)) p.push_back(rt::ana::tokenize(*s, t));
    for (const auto& t : ana::readLines(o.neg)) n.push_back(rt::ana::tokenize(*s, t));
    v = rt::ana::contrastiveVector(*s, layer, p, n);
    j["method"] = "contrastive";
  }
  const std::string& out = o.out;
  if (out.size() > 5 && out.substr(out.size() - 5) == ".gguf") {
    rt::ana::ControlVector cv;
    cv.modelHint = arch(*s);
    cv.layerCount = L;
    cv.layers[layer] = v;
    rt::ana::writeControlVector(out, cv);
  } else {
    rt::writeNpy(out, v.data(), {static_cast<int64_t>(v.size())});
  }
  double n2 = 0;
  for (float x : v) n2 += double(x) * x;
  j["layer"] = layer;
  j["norm"] = std::sqrt(n2);
  j["out"] = out;
  if (!s->promptIds().empty())
    j["push_ratio_alpha1"] = rt::ana::pushRatio(*s->run(), layer, v, 1.0f);
  if (o.readoutAlpha != 0.0f) {
    if (s->promptIds().empty())
      throw std::invalid_argument("steer-vector: --readout needs --text or --ids");
    rt::Steering st{layer, o.readoutAlpha, o.from, v};
    auto r = rt::ana::steeringReadout(*s, s->promptIds(), st, o.gen);
    const int P = static_cast<int>(r.positions.size());
    auto rows = [&](const std::vector<float>& m) {
      std::vector<std::vector<float>> out;
      for (int l = 0; l < r.nLayers; ++l)
        out.emplace_back(m.begin() + size_t(l) * P, m.begin() + size_t(l + 1) * P);
      return out;
    };
    j["readout"] = {{"alpha", o.readoutAlpha},
                    {"push_ratio", r.pushRatio},
                    {"first_layer", r.firstLayer},
                    {"positions", r.positions},
                    {"n_prompt", r.nPrompt},
                    {"continuation",
                     ana::textOf(*s, std::vector<int32_t>(r.ids.begin() + r.nPrompt, r.ids.end()))},
                    {"diff_norm", rows(r.diffNorm)},
                    {"cos_steered_ref", rows(r.cosine)},
                    {"cos_diff_vector", rows(r.cosineWithVector)}};
  }
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{
    {"steer-vector",
     "build a steering vector (contrastive or concept) as .npy or control-vector GGUF",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SteerOpts>();
       ana::addModelPrompt(sub, o->mp);
       sub.add_option("--pos", o->pos, "positive prompts, one per line");
       sub.add_option("--neg", o->neg, "negative prompts, one per line");
       sub.add_option("--concept", o->conceptWord, "concept word (concept injection)");
       sub.add_option("--baseline", o->baseline, "baseline words, one per line");
       sub.add_option("--template", o->tmpl, "prompt template with {word}");
       sub.add_option("--layer", o->layer, "layer (default floor(0.7 * n_layer))");
       sub.add_option("--out", o->out, "output .npy or .gguf");
       sub.add_option("--from-gguf", o->fromGguf, "read this control vector's --layer instead");
       sub.add_option("--readout", o->readoutAlpha,
                      "alpha: steered vs reference over later layers and generated tokens");
       sub.add_option("--from", o->from, "first steered sequence index (readout)");
       sub.add_option("--gen", o->gen, "generated tokens compared (readout)");
       return [o] { return steerCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
