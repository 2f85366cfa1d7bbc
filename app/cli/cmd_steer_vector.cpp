// `layerlens-cli steer-vector`: builds a steering vector (ALGORITHMS.md §8) by contrastive mean
// difference (--pos FILE --neg FILE, one prompt per line) or concept injection (--concept WORD
// --baseline FILE of baseline words, --template "Tell me about {word}"), writes it as .npy f32
// [n_embd] or, for a .gguf --out, as a llama.cpp control vector (direction.<layer>). --from-gguf
// converts a control vector's layer to .npy. --readout ALPHA (with a prompt) adds the readouts of
// §8: α‖v‖/mean‖h_l‖, and over later layers and --gen generated tokens ‖h_steered − h_ref‖,
// cos(h_steered, h_ref), cos(h_steered − h_ref, v). With --server the prompt files are read here,
// the vector is built there (the named analysis "steer-vector") and written here.
#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "runtime/analysis/control_vector.h"
#include "runtime/analysis/steering.h"

namespace ll::cli {
namespace {

struct SteerOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string pos, neg, conceptWord, baseline, tmpl = "Tell me about {word}", out, fromGguf;
  int layer = -1, from = 0, gen = 8;
  float readoutAlpha = 0.0f;
};

// The model's architecture, the control vector's hint: from the model here, from its info there.
std::string arch(CliSession& s) {
  if (const rt::Session* ls = s.local()) return ls->model().spec.arch;
  return nlohmann::json::parse(s.infoJson()).value("architecture", std::string());
}

int steerCommand(const SteerOpts& o) {
  if (o.out.empty()) throw std::invalid_argument("steer-vector: give --out FILE (.npy or .gguf)");
  auto s = ana::openPrompted(o.mp, o.server, true);
  const int L = s->spec().nLayer, d = s->spec().nEmbd;
  rt::ana::SteerVectorCall call;
  call.layer = o.layer >= 0 ? o.layer : rt::ana::defaultSteeringLayer(L);
  call.out = o.out;
  call.readoutAlpha = o.readoutAlpha;
  call.from = o.from;
  call.gen = o.gen;
  // Files are read here and sent as values: a server never opens the client's files.
  if (!o.fromGguf.empty()) {
    auto cv = rt::ana::readControlVector(o.fromGguf, d);
    auto it = cv.layers.find(call.layer);
    if (it == cv.layers.end())
      throw std::invalid_argument("steer-vector: " + o.fromGguf + " has no direction." +
                                  std::to_string(call.layer));
    call.method = "import";
    call.vector = it->second;
  } else if (!o.conceptWord.empty()) {
    if (o.baseline.empty())
      throw std::invalid_argument("steer-vector: --concept needs --baseline FILE");
    call.method = "concept";
    call.conceptWord = o.conceptWord;
    call.tmpl = o.tmpl;
    call.baselines = ana::readLines(o.baseline);
  } else {
    if (o.pos.empty() || o.neg.empty())
      throw std::invalid_argument(
          "steer-vector: give --pos and --neg, or --concept and --baseline");
    call.method = "contrastive";
    call.positive = ana::readLines(o.pos);
    call.negative = ana::readLines(o.neg);
  }
  const rt::ana::AnalysisOutput res = s->analyze(call);
  const rt::ana::OutputArray& v = ana::outputArray(res, "vector");
  if (static_cast<int64_t>(v.data.size()) != d)
    throw std::runtime_error("steer-vector: the analysis returned a vector of " +
                             std::to_string(v.data.size()) + " values, n_embd is " +
                             std::to_string(d));
  const std::string& out = o.out;
  if (out.size() > 5 && out.substr(out.size() - 5) == ".gguf") {
    rt::ana::ControlVector cv;
    cv.modelHint = arch(*s);
    cv.layerCount = L;
    cv.layers[call.layer] = v.data;
    rt::ana::writeControlVector(out, cv);
  } else {
    ana::writeArray(out, v);
  }
  std::printf("%s\n", res.document.c_str());
  return 0;
}

RegisterCommand reg{
    {"steer-vector",
     "build a steering vector (contrastive or concept) as .npy or control-vector GGUF",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SteerOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
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
