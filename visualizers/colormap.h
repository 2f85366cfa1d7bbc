// Colormaps as 256-entry RGBA8 lookup tables, shared by the GPU (uploaded as a 256x1 texture)
// and by CPU renderings (export fallbacks, tests), so both use exactly the same colours.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ll::vis {

enum class Colormap {
  Viridis,    // sequential (default)
  Magma,      // sequential
  Diverging,  // blue - near-white - red, for signed data centred on 0
};

using ColormapLut = std::array<uint8_t, 256 * 4>;

// RGBA8 entries, index 0 = low end. Built once, thread-safe.
const ColormapLut& colormapLut(Colormap map);
bool isDiverging(Colormap map);
std::string_view colormapName(Colormap map);

}  // namespace ll::vis
