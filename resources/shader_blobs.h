// SPIR-V of the GLSL shaders in resources/shaders, compiled by glslc at build time and
// embedded in the binary (see resources/CMakeLists.txt).
#pragma once

#include <cstdint>
#include <span>

namespace ll::res {

enum class Shader {
  HeatmapVert,    // heatmap.vert: one quad per texture tile
  HeatmapFrag,    // heatmap.frag: value -> normalisation -> colormap LUT
  LodReduceComp,  // lod_reduce.comp: one 2x2 max/mean step of the level-of-detail pyramid
};

// The SPIR-V words of a shader (valid for the program's lifetime).
std::span<const uint32_t> shaderSpirv(Shader shader);

}  // namespace ll::res
