#include "visualizers/vk/heatmap_renderer.h"

#include "resources/shader_blobs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ll::vis::vk {
namespace {

// Mirrors the push-constant block in resources/shaders/heatmap_common.glsl.
struct HeatmapPush {
  float viewOrigin[2];
  float cellsPerPixel[2];
  float vpOffset[2];
  float vpSize[2];
  int32_t tileRect[4];
  int32_t info[4];  // level, flags, norm mode, LOD reduction
  float range[4];
  float maskColor[4];
  int32_t extra[4];   // x: colormap row in the LUT texture, y: mask window, z / w: marker RGBA8
  int32_t marker[4];  // marked cells: col0, row0, col1, row1
};
// The minimum maxPushConstantsSize Vulkan guarantees: nothing more may go in.
static_assert(sizeof(HeatmapPush) == 128);

constexpr int kFlagCausal = 1;
constexpr int kFlagMarkRows = 2;
constexpr int kFlagMarkCols = 4;
constexpr int kFlagMarkBox = 8;
constexpr Colormap kLutRows[] = {Colormap::Viridis, Colormap::Magma, Colormap::Diverging};
constexpr uint32_t kLutRowCount = 3;

// RGB floats as the RGBA8 word GLSL's unpackUnorm4x8 reads (red in the low byte).
int32_t packRgba8(const float rgb[3]) {
  uint32_t w = 0xff000000u;
  for (int ch = 0; ch < 3; ++ch)
    w |= static_cast<uint32_t>(std::lround(std::clamp(rgb[ch], 0.0f, 1.0f) * 255.0f)) << (8 * ch);
  return static_cast<int32_t>(w);
}

int lutRow(Colormap map) {
  for (uint32_t i = 0; i < kLutRowCount; ++i)
    if (kLutRows[i] == map) return static_cast<int>(i);
  return 0;
}

}  // namespace

HeatmapRenderer::HeatmapRenderer(const DeviceRefs& refs, VkRenderPass renderPass,
                                 VkSampleCountFlagBits samples, int maxTileSize)
    : m_refs(refs), m_texture(refs, maxTileSize) {
  try {
    VkSamplerCreateInfo si{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    si.magFilter = VK_FILTER_NEAREST;  // R32F: linear filtering is optional in Vulkan
    si.minFilter = VK_FILTER_NEAREST;
    si.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    si.addressModeU = si.addressModeV = si.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    si.maxLod = VK_LOD_CLAMP_NONE;
    check(vkCreateSampler(refs.device, &si, nullptr, &m_sampler), "vkCreateSampler");
    createLut();
    createPipeline(renderPass, samples);
  } catch (...) {
    release();
    throw;
  }
}

HeatmapRenderer::~HeatmapRenderer() {
  release();
}

void HeatmapRenderer::release() {
  VkDevice d = m_refs.device;
  if (m_pool) vkDestroyDescriptorPool(d, m_pool, nullptr);
  m_pool = VK_NULL_HANDLE;
  if (m_pipeline) vkDestroyPipeline(d, m_pipeline, nullptr);
  m_pipeline = VK_NULL_HANDLE;
  if (m_layout) vkDestroyPipelineLayout(d, m_layout, nullptr);
  m_layout = VK_NULL_HANDLE;
  if (m_setLayout) vkDestroyDescriptorSetLayout(d, m_setLayout, nullptr);
  m_setLayout = VK_NULL_HANDLE;
  if (m_lutView) vkDestroyImageView(d, m_lutView, nullptr);
  m_lutView = VK_NULL_HANDLE;
  destroy(d, m_lut);
  if (m_sampler) vkDestroySampler(d, m_sampler, nullptr);
  m_sampler = VK_NULL_HANDLE;
}

void HeatmapRenderer::createLut() {
  m_lut = createImage(m_refs, 256, kLutRowCount, 1, VK_FORMAT_R8G8B8A8_UNORM,
                      VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
  m_lutView = createView(m_refs.device, m_lut.image, VK_FORMAT_R8G8B8A8_UNORM, 0, 1);
  Buffer staging =
      createHostBuffer(m_refs, 256 * 4 * kLutRowCount, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
  for (uint32_t i = 0; i < kLutRowCount; ++i)
    std::memcpy(static_cast<uint8_t*>(staging.mapped) + i * 1024, colormapLut(kLutRows[i]).data(),
                1024);
  try {
    OneShot once(m_refs);
    once.run([&](VkCommandBuffer cb) {
      imageBarrier(cb, m_lut.image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                   0, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                   VK_PIPELINE_STAGE_TRANSFER_BIT);
      VkBufferImageCopy copy{};
      copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      copy.imageExtent = {256, kLutRowCount, 1};
      vkCmdCopyBufferToImage(cb, staging.buffer, m_lut.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                             1, &copy);
      imageBarrier(cb, m_lut.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                   VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_ACCESS_SHADER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                   VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT);
    });
  } catch (...) {
    destroy(m_refs.device, staging);
    throw;
  }
  destroy(m_refs.device, staging);
}

void HeatmapRenderer::createPipeline(VkRenderPass renderPass, VkSampleCountFlagBits samples) {
  VkDescriptorSetLayoutBinding b[4]{};
  for (uint32_t i = 0; i < 3; ++i) {
    b[i].binding = i;
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
  }
  b[3].binding = 3;
  b[3].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
  b[3].descriptorCount = 1;
  b[3].stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.bindingCount = 4;
  li.pBindings = b;
  check(vkCreateDescriptorSetLayout(m_refs.device, &li, nullptr, &m_setLayout),
        "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0,
                         sizeof(HeatmapPush)};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &m_setLayout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &pr;
  check(vkCreatePipelineLayout(m_refs.device, &pl, nullptr, &m_layout), "vkCreatePipelineLayout");

  VkShaderModule vert =
      createShaderModule(m_refs.device, res::shaderSpirv(res::Shader::HeatmapVert));
  VkShaderModule frag = VK_NULL_HANDLE;
  try {
    frag = createShaderModule(m_refs.device, res::shaderSpirv(res::Shader::HeatmapFrag));
  } catch (...) {
    vkDestroyShaderModule(m_refs.device, vert, nullptr);
    throw;
  }
  VkPipelineShaderStageCreateInfo stages[2]{};
  stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  stages[0].stage = VK_SHADER_STAGE_VERTEX_BIT;
  stages[0].module = vert;
  stages[0].pName = "main";
  stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  stages[1].stage = VK_SHADER_STAGE_FRAGMENT_BIT;
  stages[1].module = frag;
  stages[1].pName = "main";
  VkPipelineVertexInputStateCreateInfo vi{
      VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
  VkPipelineInputAssemblyStateCreateInfo ia{
      VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
  ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
  VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
  vp.viewportCount = 1;
  vp.scissorCount = 1;
  VkPipelineRasterizationStateCreateInfo rs{
      VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
  rs.polygonMode = VK_POLYGON_MODE_FILL;
  rs.cullMode = VK_CULL_MODE_NONE;
  rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
  rs.lineWidth = 1.0f;
  VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
  ms.rasterizationSamples = samples;
  VkPipelineDepthStencilStateCreateInfo ds{
      VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO};
  VkPipelineColorBlendAttachmentState att{};
  att.colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT |
                       VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
  VkPipelineColorBlendStateCreateInfo cbs{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
  cbs.attachmentCount = 1;
  cbs.pAttachments = &att;
  VkDynamicState dyn[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
  VkPipelineDynamicStateCreateInfo dy{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
  dy.dynamicStateCount = 2;
  dy.pDynamicStates = dyn;
  VkGraphicsPipelineCreateInfo gi{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
  gi.stageCount = 2;
  gi.pStages = stages;
  gi.pVertexInputState = &vi;
  gi.pInputAssemblyState = &ia;
  gi.pViewportState = &vp;
  gi.pRasterizationState = &rs;
  gi.pMultisampleState = &ms;
  gi.pDepthStencilState = &ds;  // render passes from QVulkanWindow carry a depth attachment
  gi.pColorBlendState = &cbs;
  gi.pDynamicState = &dy;
  gi.layout = m_layout;
  gi.renderPass = renderPass;
  VkResult r =
      vkCreateGraphicsPipelines(m_refs.device, VK_NULL_HANDLE, 1, &gi, nullptr, &m_pipeline);
  vkDestroyShaderModule(m_refs.device, vert, nullptr);
  vkDestroyShaderModule(m_refs.device, frag, nullptr);
  check(r, "vkCreateGraphicsPipelines(heatmap)");
}

void HeatmapRenderer::setMatrix(std::span<const float> values, int rows, int cols) {
  m_texture.upload(values, rows, cols);
  rebuildDescriptors();
}

void HeatmapRenderer::setMatrix(int rows, int cols, const HeatmapTexture::RowFill& fill) {
  m_texture.upload(rows, cols, fill);
  rebuildDescriptors();
}

void HeatmapRenderer::rebuildDescriptors() {
  if (m_pool) vkDestroyDescriptorPool(m_refs.device, m_pool, nullptr);
  m_pool = VK_NULL_HANDLE;
  m_sets.clear();
  m_firstSet.clear();
  const auto& tiles = m_texture.tiles();
  if (tiles.empty()) return;
  uint32_t n = 0;
  for (const TextureTile& t : tiles) {
    m_firstSet.push_back(n);
    n += static_cast<uint32_t>(t.levels());
  }
  VkDescriptorPoolSize ps[2] = {{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 3 * n},
                                {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n}};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.maxSets = n;
  pi.poolSizeCount = 2;
  pi.pPoolSizes = ps;
  check(vkCreateDescriptorPool(m_refs.device, &pi, nullptr, &m_pool), "vkCreateDescriptorPool");
  std::vector<VkDescriptorSetLayout> layouts(n, m_setLayout);
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = m_pool;
  ai.descriptorSetCount = n;
  ai.pSetLayouts = layouts.data();
  m_sets.resize(n);
  check(vkAllocateDescriptorSets(m_refs.device, &ai, m_sets.data()), "vkAllocateDescriptorSets");
  for (size_t ti = 0; ti < tiles.size(); ++ti) {
    for (int k = 0; k < tiles[ti].levels(); ++k) {
      const VkDescriptorSet set = m_sets[m_firstSet[ti] + k];
      VkDescriptorImageInfo ii[3] = {
          {m_sampler, tiles[ti].level(k, LodReduction::Max).view, VK_IMAGE_LAYOUT_GENERAL},
          {m_sampler, tiles[ti].level(k, LodReduction::Mean).view, VK_IMAGE_LAYOUT_GENERAL},
          {m_sampler, m_lutView, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL}};
      VkDescriptorBufferInfo bi{m_texture.rowStatsBuffer(), 0, VK_WHOLE_SIZE};
      VkWriteDescriptorSet w[4];
      for (uint32_t b = 0; b < 4; ++b) {
        w[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        w[b].dstSet = set;
        w[b].dstBinding = b;
        w[b].descriptorCount = 1;
        w[b].descriptorType =
            b < 3 ? VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        if (b < 3)
          w[b].pImageInfo = &ii[b];
        else
          w[b].pBufferInfo = &bi;
      }
      vkUpdateDescriptorSets(m_refs.device, 4, w, 0, nullptr);
    }
  }
}

ResolvedRange HeatmapRenderer::range() const {
  const DataStats& s = m_texture.stats();
  return resolveRange(m_style, s.min, s.max, s.minPositive);
}

int HeatmapRenderer::lodLevelFor(const HeatmapView& view, int levels) {
  int level = static_cast<int>(std::floor(view.levelOfDetail() + 1e-9));
  return std::clamp(level, 0, std::max(0, levels - 1));
}

void HeatmapRenderer::recordDraw(VkCommandBuffer cb, const ViewportRect& viewport,
                                 const HeatmapView& view) {
  if (!hasData() || m_sets.empty() || viewport.width <= 0 || viewport.height <= 0) return;
  VkViewport vp{viewport.x, viewport.y, viewport.width, viewport.height, 0.0f, 1.0f};
  VkRect2D sc{{static_cast<int32_t>(viewport.x), static_cast<int32_t>(viewport.y)},
              {static_cast<uint32_t>(viewport.width), static_cast<uint32_t>(viewport.height)}};
  vkCmdSetViewport(cb, 0, 1, &vp);
  vkCmdSetScissor(cb, 0, 1, &sc);
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, m_pipeline);

  HeatmapPush p{};
  p.viewOrigin[0] = static_cast<float>(view.originX);
  p.viewOrigin[1] = static_cast<float>(view.originY);
  p.cellsPerPixel[0] = static_cast<float>(view.cellsPerPixelX);
  p.cellsPerPixel[1] = static_cast<float>(view.cellsPerPixelY);
  p.vpOffset[0] = viewport.x;
  p.vpOffset[1] = viewport.y;
  p.vpSize[0] = viewport.width;
  p.vpSize[1] = viewport.height;
  p.info[1] = m_style.causalMask ? kFlagCausal : 0;
  if (!m_marker.empty()) {
    if (m_marker.hasRows()) p.info[1] |= kFlagMarkRows;
    if (m_marker.hasCols()) p.info[1] |= kFlagMarkCols;
    if (m_marker.kind == HeatmapMarker::Kind::Box) p.info[1] |= kFlagMarkBox;
  }
  p.marker[0] = m_marker.col0;
  p.marker[1] = m_marker.row0;
  p.marker[2] = m_marker.col1;
  p.marker[3] = m_marker.row1;
  p.extra[2] = packRgba8(m_style.markerRgb);
  p.extra[3] = packRgba8(m_style.markerHaloRgb);
  p.extra[1] = m_style.causalMask ? m_style.maskWindow : 0;
  p.info[2] = static_cast<int32_t>(m_style.normalization);
  p.info[3] = m_style.lod == LodReduction::Mean ? 1 : 0;
  const ResolvedRange r = range();
  if (m_style.normalization == Normalization::Log) {
    p.range[0] = std::log(r.lo);
    p.range[1] = 1.0f / (std::log(r.hi) - std::log(r.lo));
  } else {
    p.range[0] = r.lo;
    p.range[1] = 1.0f / (r.hi - r.lo);
  }
  std::copy(m_style.maskRgb, m_style.maskRgb + 3, p.maskColor);
  p.maskColor[3] = 1.0f;
  p.extra[0] = lutRow(m_style.colormap);

  // Visible data rectangle, for culling tiles.
  const double x0 = view.originX, y0 = view.originY;
  const double x1 = x0 + viewport.width * view.cellsPerPixelX;
  const double y1 = y0 + viewport.height * view.cellsPerPixelY;
  const auto& tiles = m_texture.tiles();
  for (size_t i = 0; i < tiles.size(); ++i) {
    const TextureTile& t = tiles[i];
    if (t.col0 >= x1 || t.col0 + t.cols <= x0 || t.row0 >= y1 || t.row0 + t.rows <= y0) continue;
    p.tileRect[0] = t.col0;
    p.tileRect[1] = t.row0;
    p.tileRect[2] = t.cols;
    p.tileRect[3] = t.rows;
    const int level = lodLevelFor(view, t.levels());
    p.info[0] = level;
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, m_layout, 0, 1,
                            &m_sets[m_firstSet[i] + level], 0, nullptr);
    vkCmdPushConstants(cb, m_layout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0,
                       sizeof(HeatmapPush), &p);
    vkCmdDraw(cb, 4, 1, 0, 0);
  }
}

}  // namespace ll::vis::vk
