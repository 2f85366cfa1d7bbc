// The one definition of RoPE frequencies and cos/sin magnitude for every backend: base and linear
// scaling, llama3 wavelength bands, per-pair frequency factors (phi3) and YaRN (gpt-oss), folded
// into one inverse frequency per rotated pair (angles stay linear in the position).
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/backend.h"

namespace ll::kern {

// Angle per position of pair i (dimensions 2i, 2i+1 or i, i + nRot/2).
inline double ropeInvFreq(int i, const RopeParams& p) {
  double freq = std::pow(double(p.base), -2.0 * i / double(p.nRot));
  if (!p.freqFactors.empty()) freq /= double(p.freqFactors[size_t(i)]);
  if (p.llama3Factor != 0.0f) {
    // HF _compute_llama3_parameters: long wavelengths are slowed by `factor`, short ones kept,
    // the band between interpolated smoothly.
    const double factor = p.llama3Factor, lo = p.llama3LowFreqFactor, hi = p.llama3HighFreqFactor;
    const double orig = p.llama3OrigCtx;
    const double lowWavelen = orig / lo, highWavelen = orig / hi;
    const double wavelen = 2.0 * std::numbers::pi / freq;
    if (wavelen < highWavelen) {
      // unchanged
    } else if (wavelen > lowWavelen) {
      freq = freq / factor;
    } else {
      const double smooth = (orig / wavelen - lo) / (hi - lo);
      freq = (1.0 - smooth) * freq / factor + smooth * freq;
    }
  }
  if (p.yarnExtFactor != 0.0f) {
    // ggml_rope_yarn_corr_dims and rope_yarn_ramp (float arithmetic as ggml does it).
    auto corrDim = [&](float beta) {
      return float(p.nRot) *
             std::log(float(p.yarnOrigCtx) / (beta * 2.0f * float(std::numbers::pi))) /
             (2.0f * std::log(p.base));
    };
    const float lo = std::max(0.0f, std::floor(corrDim(p.yarnBetaFast)));
    const float hi = std::min(float(p.nRot - 1), std::ceil(corrDim(p.yarnBetaSlow)));
    const float y = (float(i) - lo) / std::max(0.001f, hi - lo);
    const double mix = double((1.0f - std::min(1.0f, std::max(0.0f, y))) * p.yarnExtFactor);
    return freq * (double(p.freqScale) * (1.0 - mix) + mix);
  }
  return freq * p.freqScale;
}

// Multiplier of cos and sin.
inline double ropeMagnitude(const RopeParams& p) {
  double m = p.attnFactor;
  if (p.yarnExtFactor != 0.0f) m *= 1.0 + 0.1 * std::log(1.0 / double(p.freqScale));
  return m;
}

}  // namespace ll::kern
