// A float matrix on the GPU as R32F texture tiles (tiled when larger than the device's
// maxImageDimension2D) with a level-of-detail pyramid (2x2 max and mean per level) built by a
// compute shader. Uploads stream through a bounded staging buffer, so host memory stays
// bounded even for 32k x 32k maps. Plain Vulkan (includes only <vulkan/vulkan.h>).
#pragma once

#include "visualizers/heatmap_types.h"
#include "visualizers/vk/vk_util.h"

#include <functional>
#include <span>
#include <vector>

namespace ll::vis::vk {

// Pyramid levels are separate images rather than mips: Vulkan mip sizes round down, which would
// drop the last row / column of odd-sized levels; ours round up so every cell is covered.
struct TextureLevel {
  Image image;
  VkImageView view = VK_NULL_HANDLE;
};

struct TextureTile {
  int col0 = 0;
  int row0 = 0;
  int cols = 0;
  int rows = 0;
  TextureLevel data;               // level 0
  std::vector<TextureLevel> max;   // max[k-1]: level k, 2^k x 2^k block max
  std::vector<TextureLevel> mean;  // mean[k-1]: level k, 2^k x 2^k block mean
  int levels() const { return 1 + static_cast<int>(max.size()); }
  const TextureLevel& level(int k, LodReduction r) const {
    return k == 0 ? data : (r == LodReduction::Max ? max[k - 1] : mean[k - 1]);
  }
};

struct DataStats {
  float min = 0.0f;  // over finite values; min > max when there are none
  float max = -1.0f;
  float minPositive = 0.0f;  // smallest value > 0 (0 when none)
};

class HeatmapTexture {
 public:
  // Fills dst with rows [row0, row0 + nRows) of the matrix, row-major, cols floats per row.
  using RowFill = std::function<void(int row0, int nRows, float* dst)>;

  static constexpr int kMaxSide = 1 << 20;                    // rejects absurd sizes early
  static constexpr size_t kStagingBytes = 32u * 1024 * 1024;  // bounded upload buffer

  // maxTileSize 0: the device limit maxImageDimension2D (tests pass small values to force tiling).
  // stagingBytes: size of the upload buffer (tests pass small values to force many bands).
  HeatmapTexture(const DeviceRefs& refs, int maxTileSize = 0, size_t stagingBytes = kStagingBytes);
  ~HeatmapTexture();
  HeatmapTexture(const HeatmapTexture&) = delete;
  HeatmapTexture& operator=(const HeatmapTexture&) = delete;

  void upload(std::span<const float> values, int rows, int cols);
  void upload(int rows, int cols, const RowFill& fill);
  void clear();

  int rows() const { return m_rows; }
  int cols() const { return m_cols; }
  int tileSize() const { return m_tileSize; }
  const DataStats& stats() const { return m_stats; }
  // Where the last upload spent its time (ms): fill + statistics on the CPU, copies into the
  // tiles, the LOD pyramid on the GPU. For benchmarks.
  struct UploadTimings {
    double fillMs = 0, copyMs = 0, pyramidMs = 0;
  };
  const UploadTimings& lastUploadTimings() const { return m_timings; }
  const std::vector<TextureTile>& tiles() const { return m_tiles; }
  VkBuffer rowStatsBuffer() const { return m_rowStats.buffer; }
  VkDeviceSize deviceBytes() const;  // images + row stats

  // Reads one pyramid level of a tile back (tests, export): ceil(rows / 2^level) rows of
  // ceil(cols / 2^level) floats. Level 0 is the data for both reductions.
  std::vector<float> readLevel(size_t tileIndex, int level, LodReduction reduction,
                               int* outRows = nullptr, int* outCols = nullptr);

 private:
  void createComputePipeline();
  void allocateTiles();
  void buildPyramids();

  DeviceRefs m_refs;
  size_t m_stagingBytes = kStagingBytes;
  int m_tileSize = 0;
  int m_rows = 0;
  int m_cols = 0;
  DataStats m_stats;
  UploadTimings m_timings;
  std::vector<TextureTile> m_tiles;
  Buffer m_rowStats;
  Buffer m_staging;
  OneShot m_oneShot;
  VkDescriptorSetLayout m_lodSetLayout = VK_NULL_HANDLE;
  VkPipelineLayout m_lodLayout = VK_NULL_HANDLE;
  VkPipeline m_lodPipeline = VK_NULL_HANDLE;
};

// Number of pyramid levels of a w x h tile (down to 1 x 1) and the size of one level.
int lodLevels(int width, int height);
int levelSize(int size, int level);

}  // namespace ll::vis::vk
