#include "resources/shader_blobs.h"

namespace ll::res {
namespace {

// glslc -mfmt=c writes a brace-enclosed initializer list of 32-bit words.
const uint32_t kHeatmapVert[] =
#include "heatmap.vert.spv.inc"
    ;
const uint32_t kHeatmapFrag[] =
#include "heatmap.frag.spv.inc"
    ;
const uint32_t kLodReduceComp[] =
#include "lod_reduce.comp.spv.inc"
    ;

}  // namespace

std::span<const uint32_t> shaderSpirv(Shader shader) {
  switch (shader) {
    case Shader::HeatmapVert:
      return kHeatmapVert;
    case Shader::HeatmapFrag:
      return kHeatmapFrag;
    case Shader::LodReduceComp:
      return kLodReduceComp;
  }
  return {};
}

}  // namespace ll::res
