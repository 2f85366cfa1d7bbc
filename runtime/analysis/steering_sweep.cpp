// Steering readouts (ALGORITHMS.md §8): steered passes over the prompt up to the read position,
// KL against the unsteered logits and entropy in double.
#include "runtime/analysis/steering_sweep.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/steering.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::vector<float> defaultSweepAlphas(float alpha) {
  constexpr int kSteps = 12;
  constexpr double kLo = 0.2, kHi = 16.0;
  const double sign = alpha < 0 ? -1.0 : 1.0;
  std::vector<float> a{0.0f};
  for (int i = 0; i < kSteps; ++i)
    a.push_back(static_cast<float>(sign * kLo * std::pow(kHi / kLo, double(i) / (kSteps - 1))));
  return a;
}

namespace {

struct Readout {
  double kl = 0.0, entropy = 0.0;
  int32_t top1 = -1;
};

Readout readRow(const float* base, const float* row, int n) {
  const RowStats st = rowStats(row, n, 1);
  return {klFromLogits(row, base, n), double(st.entropy), st.topIds[0]};
}

void checkInput(const Session& s, const Trace& base, const std::vector<float>& v, int layer,
                int position) {
  if (!base.captured) throw std::invalid_argument("steering sweep: the trace has no capture");
  if (base.nLayer != s.model().spec.nLayer || base.nEmbd != s.model().spec.nEmbd)
    throw std::invalid_argument("steering sweep: the trace is of another model");
  if (static_cast<int>(v.size()) != base.nEmbd)
    throw std::invalid_argument("steering vector has " + std::to_string(v.size()) +
                                " values; the model's width is " + std::to_string(base.nEmbd));
  if (layer < 0 || layer >= base.nLayer)
    throw std::invalid_argument("steering layer " + std::to_string(layer) +
                                " is out of range (0.." + std::to_string(base.nLayer - 1) + ")");
  if (position < 0 || position >= base.nTokens)
    throw std::invalid_argument("steering sweep: position " + std::to_string(position) +
                                " is out of range (0.." + std::to_string(base.nTokens - 1) + ")");
  if (!base.allLogits && position != base.nTokens - 1)
    throw std::invalid_argument("steering sweep: the trace keeps the last position's logits only");
}

}  // namespace

SteeringSweepResult steeringSweep(Session& s, const Trace& base, const std::vector<float>& v,
                                  const SteeringSweepRequest& req, const SweepProgress& progress) {
  SteeringSweepResult r;
  r.nLayer = base.nLayer;
  r.nTokens = base.nTokens;
  r.layer = req.layer < 0 ? defaultSteeringLayer(base.nLayer) : req.layer;
  r.position = req.position < 0 ? base.nTokens + req.position : req.position;
  checkInput(s, base, v, r.layer, r.position);
  if (!std::isfinite(req.alpha)) throw std::invalid_argument("steering alpha is not finite");
  r.alpha = req.alpha;
  r.fromPos = std::max(0, req.fromPos);
  r.reaches = r.position >= r.fromPos;
  r.alphas = req.alphas.empty() ? defaultSweepAlphas(req.alpha) : req.alphas;
  for (float a : r.alphas)
    if (!std::isfinite(a)) throw std::invalid_argument("steering sweep: an alpha is not finite");

  const int V = base.nVocab, P = r.position;
  const float* p0 = base.allLogits ? base.logitsRow(P) : base.logits.data();
  const RowStats st0 = rowStats(p0, V, 1);
  r.top1Base = st0.topIds[0];
  r.entropyBase = st0.entropy;
  // Tokens 0..P: the logits at P see no later token, so the passes stop there.
  const std::vector<int32_t> ids(base.ids.begin(), base.ids.begin() + P + 1);
  const std::vector<int32_t> pos(base.positions.begin(), base.positions.begin() + P + 1);
  int steered = 0;
  for (float a : r.alphas) steered += a != 0.0f;
  const int passes = steered + (req.layerSweep ? r.nLayer : 0);
  int done = 0;
  const auto engineProgress = [&](int, int) { return !progress || progress(done, passes); };
  const auto steeredRun = [&](int layer, float alpha) {
    Interventions iv = base.request.interventions;
    iv.steering.push_back({layer, alpha, r.fromPos, v});
    auto tr = s.engine().run(ids, pos, iv, CaptureOptions{false, false}, engineProgress, false);
    r.reusedRows += tr->reusedRows;
    ++done;
    if (progress && !progress(done, passes)) throw Cancelled();
    return readRow(p0, tr->logits.data(), V);
  };

  for (float a : r.alphas) {
    // alpha 0 adds nothing: the unsteered run's row.
    const Readout x = a == 0.0f ? Readout{0.0, r.entropyBase, r.top1Base} : steeredRun(r.layer, a);
    r.kl.push_back(x.kl);
    r.entropy.push_back(x.entropy);
    r.top1.push_back(x.top1);
  }
  for (int l = 0; l < r.nLayer; ++l) {
    r.pushRatio.push_back(pushRatio(base, l, v, req.alpha));
    if (!req.layerSweep) continue;
    const Readout x =
        req.alpha == 0.0f ? Readout{0.0, r.entropyBase, r.top1Base} : steeredRun(l, req.alpha);
    r.layerKl.push_back(x.kl);
    r.layerEntropy.push_back(x.entropy);
    r.layerTop1.push_back(x.top1);
  }
  return r;
}

nlohmann::json steeringSweepJson(const SteeringSweepResult& r) {
  nlohmann::json j;
  j["n_layer"] = r.nLayer;
  j["n_tokens"] = r.nTokens;
  j["position"] = r.position;
  j["layer"] = r.layer;
  j["from"] = r.fromPos;
  j["alpha"] = r.alpha;
  j["reaches"] = r.reaches;
  j["top1_base"] = r.top1Base;
  j["entropy_base"] = r.entropyBase;
  j["alphas"] = r.alphas;
  j["kl"] = r.kl;
  j["entropy"] = r.entropy;
  j["top1"] = r.top1;
  j["layer_kl"] = r.layerKl;
  j["layer_entropy"] = r.layerEntropy;
  j["layer_top1"] = r.layerTop1;
  j["push_ratio"] = r.pushRatio;
  return j;
}

}  // namespace ll::rt::ana
