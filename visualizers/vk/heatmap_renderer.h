// The plain-Vulkan heatmap core: given a device, a queue and a render pass, it owns the
// pipeline, the colormap table and the matrix texture, and records draw commands for a
// viewport. Used inside QVulkanWindow (ui/, visualizers/qt/) and by the offscreen path.
#pragma once

#include "visualizers/heatmap_types.h"
#include "visualizers/vk/heatmap_texture.h"
#include "visualizers/vk/vk_util.h"

#include <memory>

namespace ll::vis::vk {

// Where in the framebuffer the heatmap goes (pixels).
struct ViewportRect {
  float x = 0.0f;
  float y = 0.0f;
  float width = 1.0f;
  float height = 1.0f;
};

class HeatmapRenderer {
 public:
  HeatmapRenderer(const DeviceRefs& refs, VkRenderPass renderPass,
                  VkSampleCountFlagBits samples = VK_SAMPLE_COUNT_1_BIT, int maxTileSize = 0);
  ~HeatmapRenderer();
  HeatmapRenderer(const HeatmapRenderer&) = delete;
  HeatmapRenderer& operator=(const HeatmapRenderer&) = delete;

  void setMatrix(std::span<const float> values, int rows, int cols);
  void setMatrix(int rows, int cols, const HeatmapTexture::RowFill& fill);
  void setStyle(const HeatmapStyle& style) { m_style = style; }
  const HeatmapStyle& style() const { return m_style; }
  // Selected cells framed in the style's marker colours (default: none).
  void setMarker(const HeatmapMarker& marker) { m_marker = marker; }
  bool hasData() const { return m_texture.rows() > 0; }
  HeatmapTexture& texture() { return m_texture; }
  ResolvedRange range() const;

  // Records the draws (inside an active render pass on cb). Sets viewport and scissor.
  void recordDraw(VkCommandBuffer cb, const ViewportRect& viewport, const HeatmapView& view);

  // The LOD level recordDraw uses for a view (exposed for tests and the benchmark).
  static int lodLevelFor(const HeatmapView& view, int levels);

 private:
  void createPipeline(VkRenderPass renderPass, VkSampleCountFlagBits samples);
  void createLut();
  void rebuildDescriptors();
  void release();

  DeviceRefs m_refs;
  HeatmapTexture m_texture;
  HeatmapStyle m_style;
  HeatmapMarker m_marker;
  VkSampler m_sampler = VK_NULL_HANDLE;
  Image m_lut;
  VkImageView m_lutView = VK_NULL_HANDLE;
  VkDescriptorSetLayout m_setLayout = VK_NULL_HANDLE;
  VkPipelineLayout m_layout = VK_NULL_HANDLE;
  VkPipeline m_pipeline = VK_NULL_HANDLE;
  VkDescriptorPool m_pool = VK_NULL_HANDLE;
  std::vector<VkDescriptorSet> m_sets;  // one per (tile, pyramid level)
  std::vector<size_t> m_firstSet;       // index of each tile's level-0 set
};

}  // namespace ll::vis::vk
