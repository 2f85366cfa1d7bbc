#include "visualizers/colormap.h"

#include <algorithm>
#include <cmath>

namespace ll::vis {
namespace {

// viridis and magma: degree-6 polynomial fits (minimax) by Matt Zucconi to the matplotlib /
// BIDS colormaps (CC0, shadertoy WlfXRN); max error below one 8-bit step, so the table is
// indistinguishable from matplotlib's and needs no 256-entry data file.
struct Poly6 {
  double c[7][3];
};
constexpr Poly6 kViridis{{{0.2777273272234177, 0.005407344544966578, 0.3340998053353061},
                          {0.1050930431085774, 1.404613529898575, 1.384590162594685},
                          {-0.3308618287255563, 0.214847559468213, 0.09509516302823659},
                          {-4.634230498983486, -5.799100973351585, -19.33244095627987},
                          {6.228269936347081, 14.17993336680509, 56.69055260068105},
                          {4.776384997670288, -13.74514537774601, -65.35303263337234},
                          {-5.435455855934631, 4.645852612178535, 26.3124352495832}}};
constexpr Poly6 kMagma{{{-0.002136485053939582, -0.000749655052795221, -0.005386127855323933},
                        {0.2516605407371642, 0.6775232436837668, 2.494026599312351},
                        {8.353717279216625, -3.577719514958484, 0.3144679030132573},
                        {-27.66873308576866, 14.26473078096533, -13.64921318813922},
                        {52.17613981234068, -27.94360607168351, 12.94416944238394},
                        {-50.76852536473588, 29.04658282127291, 4.23415299384598},
                        {18.65570506591883, -11.48977351997711, -5.601961508734096}}};

uint8_t toByte(double v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

ColormapLut fromPoly(const Poly6& p) {
  ColormapLut lut{};
  for (int i = 0; i < 256; ++i) {
    double t = i / 255.0;
    for (int ch = 0; ch < 3; ++ch) {
      double v = p.c[6][ch];
      for (int k = 5; k >= 0; --k) v = p.c[k][ch] + t * v;
      lut[i * 4 + ch] = toByte(v);
    }
    lut[i * 4 + 3] = 255;
  }
  return lut;
}

// Diverging: Moreland's "cool to warm" end points with a light neutral centre, interpolated
// piecewise-linearly through anchors so both halves have similar lightness ramps.
ColormapLut diverging() {
  struct Anchor {
    double t, r, g, b;
  };
  constexpr Anchor kAnchors[] = {{0.0, 0.230, 0.299, 0.754},
                                 {0.25, 0.484, 0.623, 0.988},
                                 {0.5, 0.865, 0.865, 0.865},
                                 {0.75, 0.958, 0.603, 0.482},
                                 {1.0, 0.706, 0.016, 0.150}};
  ColormapLut lut{};
  for (int i = 0; i < 256; ++i) {
    double t = i / 255.0;
    int k = std::min(3, static_cast<int>(t * 4.0));
    const Anchor& a = kAnchors[k];
    const Anchor& b = kAnchors[k + 1];
    double f = (t - a.t) / (b.t - a.t);
    lut[i * 4 + 0] = toByte(a.r + f * (b.r - a.r));
    lut[i * 4 + 1] = toByte(a.g + f * (b.g - a.g));
    lut[i * 4 + 2] = toByte(a.b + f * (b.b - a.b));
    lut[i * 4 + 3] = 255;
  }
  return lut;
}

}  // namespace

const ColormapLut& colormapLut(Colormap map) {
  static const ColormapLut kViridisLut = fromPoly(kViridis);
  static const ColormapLut kMagmaLut = fromPoly(kMagma);
  static const ColormapLut kDivergingLut = diverging();
  switch (map) {
    case Colormap::Magma:
      return kMagmaLut;
    case Colormap::Diverging:
      return kDivergingLut;
    case Colormap::Viridis:
      break;
  }
  return kViridisLut;
}

bool isDiverging(Colormap map) {
  return map == Colormap::Diverging;
}

std::string_view colormapName(Colormap map) {
  switch (map) {
    case Colormap::Magma:
      return "magma";
    case Colormap::Diverging:
      return "diverging";
    case Colormap::Viridis:
      break;
  }
  return "viridis";
}

}  // namespace ll::vis
