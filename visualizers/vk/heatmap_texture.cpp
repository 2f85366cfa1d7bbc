#include "visualizers/vk/heatmap_texture.h"

#include "resources/shader_blobs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace ll::vis::vk {
namespace {

constexpr VkFormat kFormat = VK_FORMAT_R32_SFLOAT;

struct LodPush {  // mirrors resources/shaders/lod_reduce.comp
  int32_t srcSize[2];
  int32_t dstSize[2];
  int32_t sameSource;
};

}  // namespace

int levelSize(int size, int level) {
  return std::max(1, (size + (1 << level) - 1) >> level);
}

int lodLevels(int width, int height) {
  int levels = 1;
  while (levelSize(width, levels - 1) > 1 || levelSize(height, levels - 1) > 1) ++levels;
  return levels;
}

HeatmapTexture::HeatmapTexture(const DeviceRefs& refs, int maxTileSize, size_t stagingBytes)
    : m_refs(refs), m_stagingBytes(std::max<size_t>(stagingBytes, 4096)), m_oneShot(refs) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(refs.physical, &props);
  m_tileSize = static_cast<int>(props.limits.maxImageDimension2D);
  if (maxTileSize > 0) m_tileSize = std::min(m_tileSize, maxTileSize);
  m_staging = createHostBuffer(refs, m_stagingBytes,
                               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
  try {
    createComputePipeline();
  } catch (...) {
    destroy(m_refs.device, m_staging);
    throw;
  }
}

HeatmapTexture::~HeatmapTexture() {
  clear();
  destroy(m_refs.device, m_staging);
  vkDestroyPipeline(m_refs.device, m_lodPipeline, nullptr);
  vkDestroyPipelineLayout(m_refs.device, m_lodLayout, nullptr);
  vkDestroyDescriptorSetLayout(m_refs.device, m_lodSetLayout, nullptr);
}

void HeatmapTexture::createComputePipeline() {
  VkDescriptorSetLayoutBinding b[4]{};
  for (uint32_t i = 0; i < 4; ++i) {
    b[i].binding = i;
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_IMAGE;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.bindingCount = 4;
  li.pBindings = b;
  check(vkCreateDescriptorSetLayout(m_refs.device, &li, nullptr, &m_lodSetLayout),
        "vkCreateDescriptorSetLayout(lod)");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(LodPush)};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &m_lodSetLayout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &pr;
  check(vkCreatePipelineLayout(m_refs.device, &pl, nullptr, &m_lodLayout),
        "vkCreatePipelineLayout(lod)");
  VkShaderModule module =
      createShaderModule(m_refs.device, res::shaderSpirv(res::Shader::LodReduceComp));
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.layout = m_lodLayout;
  VkResult r =
      vkCreateComputePipelines(m_refs.device, VK_NULL_HANDLE, 1, &ci, nullptr, &m_lodPipeline);
  vkDestroyShaderModule(m_refs.device, module, nullptr);
  check(r, "vkCreateComputePipelines(lod)");
}

void HeatmapTexture::clear() {
  if (m_tiles.empty() && !m_rowStats.buffer) return;
  vkQueueWaitIdle(m_refs.queue);  // frames in flight may still sample the old tiles
  auto drop = [&](TextureLevel& l) {
    if (l.view) vkDestroyImageView(m_refs.device, l.view, nullptr);
    destroy(m_refs.device, l.image);
  };
  for (TextureTile& t : m_tiles) {
    drop(t.data);
    for (TextureLevel& l : t.max) drop(l);
    for (TextureLevel& l : t.mean) drop(l);
  }
  m_tiles.clear();
  destroy(m_refs.device, m_rowStats);
  m_rows = m_cols = 0;
  m_stats = DataStats{};
}

VkDeviceSize HeatmapTexture::deviceBytes() const {
  VkDeviceSize total = m_rowStats.size;
  for (const TextureTile& t : m_tiles) {
    total += t.data.image.bytes;
    for (int k = 1; k < t.levels(); ++k)
      total += t.max[k - 1].image.bytes + t.mean[k - 1].image.bytes;
  }
  return total;
}

void HeatmapTexture::allocateTiles() {
  const VkImageUsageFlags usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_STORAGE_BIT |
                                  VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
  for (int r0 = 0; r0 < m_rows; r0 += m_tileSize) {
    for (int c0 = 0; c0 < m_cols; c0 += m_tileSize) {
      TextureTile t;
      t.col0 = c0;
      t.row0 = r0;
      t.cols = std::min(m_tileSize, m_cols - c0);
      t.rows = std::min(m_tileSize, m_rows - r0);
      const int levels = lodLevels(t.cols, t.rows);
      m_tiles.push_back(t);
      TextureTile& tt = m_tiles.back();
      auto make = [&](TextureLevel& l, int k) {
        l.image =
            createImage(m_refs, levelSize(t.cols, k), levelSize(t.rows, k), 1, kFormat, usage);
        l.view = createView(m_refs.device, l.image.image, kFormat, 0, 1);
      };
      make(tt.data, 0);
      tt.max.resize(levels - 1);
      tt.mean.resize(levels - 1);
      for (int k = 1; k < levels; ++k) {
        make(tt.max[k - 1], k);
        make(tt.mean[k - 1], k);
      }
    }
  }
  m_oneShot.run([&](VkCommandBuffer cb) {
    auto toGeneral = [&](const TextureLevel& l) {
      imageBarrier(cb, l.image.image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_GENERAL, 0,
                   VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
                   VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                   VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    };
    for (TextureTile& t : m_tiles) {
      toGeneral(t.data);
      for (const TextureLevel& l : t.max) toGeneral(l);
      for (const TextureLevel& l : t.mean) toGeneral(l);
    }
  });
}

void HeatmapTexture::upload(std::span<const float> values, int rows, int cols) {
  if (rows <= 0 || cols <= 0 || values.size() != static_cast<size_t>(rows) * cols)
    throw std::invalid_argument("heatmap: " + std::to_string(values.size()) +
                                " values do not make a " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " matrix");
  upload(rows, cols, [&](int row0, int nRows, float* dst) {
    std::memcpy(dst, values.data() + static_cast<size_t>(row0) * cols,
                static_cast<size_t>(nRows) * cols * sizeof(float));
  });
}

void HeatmapTexture::upload(int rows, int cols, const RowFill& fill) {
  if (rows <= 0 || cols <= 0 || rows > kMaxSide || cols > kMaxSide)
    throw std::invalid_argument("heatmap: unsupported matrix size " + std::to_string(rows) + " x " +
                                std::to_string(cols));
  clear();
  m_rows = rows;
  m_cols = cols;
  try {
    allocateTiles();
    m_rowStats =
        createHostBuffer(m_refs, sizeof(float) * 2 * rows, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    auto* rowStats = static_cast<float*>(m_rowStats.mapped);
    const size_t rowBytes = static_cast<size_t>(cols) * sizeof(float);
    const int bandRows = static_cast<int>(std::max<size_t>(1, m_stagingBytes / rowBytes));
    if (rowBytes > m_stagingBytes)
      throw std::invalid_argument("heatmap: rows wider than the staging buffer");
    float gMin = std::numeric_limits<float>::infinity();
    float gMax = -gMin;
    float gMinPos = gMin;
    auto* staging = static_cast<float*>(m_staging.mapped);
    m_timings = UploadTimings{};
    for (int b0 = 0; b0 < rows; b0 += bandRows) {
      int nRows = std::min(bandRows, rows - b0);
      auto t0 = std::chrono::steady_clock::now();
      fill(b0, nRows, staging);
      for (int r = 0; r < nRows; ++r) {
        const float* row = staging + static_cast<size_t>(r) * cols;
        float rMin = std::numeric_limits<float>::infinity();
        float rMax = -rMin;
        for (int c = 0; c < cols; ++c) {
          float v = row[c];
          if (!std::isfinite(v)) continue;
          rMin = std::min(rMin, v);
          rMax = std::max(rMax, v);
          if (v > 0.0f) gMinPos = std::min(gMinPos, v);
        }
        rowStats[2 * (b0 + r)] = rMin <= rMax ? rMin : 0.0f;
        rowStats[2 * (b0 + r) + 1] = rMin <= rMax ? rMax : 0.0f;
        gMin = std::min(gMin, rMin);
        gMax = std::max(gMax, rMax);
      }
      auto t1 = std::chrono::steady_clock::now();
      m_timings.fillMs += std::chrono::duration<double, std::milli>(t1 - t0).count();
      m_oneShot.run([&](VkCommandBuffer cb) {
        for (const TextureTile& t : m_tiles) {
          int r0 = std::max(b0, t.row0);
          int r1 = std::min(b0 + nRows, t.row0 + t.rows);
          if (r0 >= r1) continue;
          VkBufferImageCopy copy{};
          copy.bufferOffset = (static_cast<VkDeviceSize>(r0 - b0) * cols + t.col0) * sizeof(float);
          copy.bufferRowLength = static_cast<uint32_t>(cols);
          copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
          copy.imageOffset = {0, r0 - t.row0, 0};
          copy.imageExtent = {static_cast<uint32_t>(t.cols), static_cast<uint32_t>(r1 - r0), 1};
          vkCmdCopyBufferToImage(cb, m_staging.buffer, t.data.image.image, VK_IMAGE_LAYOUT_GENERAL,
                                 1, &copy);
        }
      });
      m_timings.copyMs +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
    }
    m_stats.min = gMin <= gMax ? gMin : 0.0f;
    m_stats.max = gMin <= gMax ? gMax : -1.0f;
    m_stats.minPositive = std::isfinite(gMinPos) ? gMinPos : 0.0f;
    auto tp = std::chrono::steady_clock::now();
    buildPyramids();
    m_timings.pyramidMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tp).count();
  } catch (...) {
    clear();
    throw;
  }
}

void HeatmapTexture::buildPyramids() {
  size_t nSets = 0;
  for (const TextureTile& t : m_tiles) nSets += t.max.size();
  if (nSets == 0) {
    m_oneShot.run([&](VkCommandBuffer cb) {
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                           VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0,
                           nullptr);
    });
    return;
  }
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, static_cast<uint32_t>(4 * nSets)};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.maxSets = static_cast<uint32_t>(nSets);
  pi.poolSizeCount = 1;
  pi.pPoolSizes = &ps;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  check(vkCreateDescriptorPool(m_refs.device, &pi, nullptr, &pool), "vkCreateDescriptorPool(lod)");
  try {
    struct Step {
      VkDescriptorSet set;
      LodPush push;
    };
    std::vector<std::vector<Step>> steps(m_tiles.size());
    for (size_t ti = 0; ti < m_tiles.size(); ++ti) {
      const TextureTile& t = m_tiles[ti];
      for (int k = 1; k < t.levels(); ++k) {
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = pool;
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &m_lodSetLayout;
        Step s{};
        check(vkAllocateDescriptorSets(m_refs.device, &ai, &s.set),
              "vkAllocateDescriptorSets(lod)");
        VkImageView v[4] = {t.level(k - 1, LodReduction::Max).view,
                            t.level(k - 1, LodReduction::Mean).view, t.max[k - 1].view,
                            t.mean[k - 1].view};
        VkDescriptorImageInfo ii[4];
        VkWriteDescriptorSet w[4];
        for (int i = 0; i < 4; ++i) {
          ii[i] = {VK_NULL_HANDLE, v[i], VK_IMAGE_LAYOUT_GENERAL};
          w[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
          w[i].dstSet = s.set;
          w[i].dstBinding = static_cast<uint32_t>(i);
          w[i].descriptorCount = 1;
          w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_IMAGE;
          w[i].pImageInfo = &ii[i];
        }
        vkUpdateDescriptorSets(m_refs.device, 4, w, 0, nullptr);
        s.push = {{levelSize(t.cols, k - 1), levelSize(t.rows, k - 1)},
                  {levelSize(t.cols, k), levelSize(t.rows, k)},
                  k == 1 ? 1 : 0};
        steps[ti].push_back(s);
      }
    }
    m_oneShot.run([&](VkCommandBuffer cb) {
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                           0, 1, &mb, 0, nullptr, 0, nullptr);
      vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, m_lodPipeline);
      size_t maxSteps = 0;
      for (const auto& s : steps) maxSteps = std::max(maxSteps, s.size());
      // Level by level across all tiles, one barrier per level.
      for (size_t k = 0; k < maxSteps; ++k) {
        for (const auto& tileSteps : steps) {
          if (k >= tileSteps.size()) continue;
          const Step& s = tileSteps[k];
          vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, m_lodLayout, 0, 1, &s.set, 0,
                                  nullptr);
          vkCmdPushConstants(cb, m_lodLayout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(LodPush),
                             &s.push);
          vkCmdDispatch(cb, static_cast<uint32_t>((s.push.dstSize[0] + 15) / 16),
                        static_cast<uint32_t>((s.push.dstSize[1] + 15) / 16), 1);
        }
        VkMemoryBarrier lb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        lb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        lb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
        vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                 VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT |
                                 VK_PIPELINE_STAGE_TRANSFER_BIT,
                             0, 1, &lb, 0, nullptr, 0, nullptr);
      }
    });
  } catch (...) {
    vkDestroyDescriptorPool(m_refs.device, pool, nullptr);
    throw;
  }
  vkDestroyDescriptorPool(m_refs.device, pool, nullptr);
}

std::vector<float> HeatmapTexture::readLevel(size_t tileIndex, int level, LodReduction reduction,
                                             int* outRows, int* outCols) {
  if (tileIndex >= m_tiles.size())
    throw std::out_of_range("heatmap: no tile " + std::to_string(tileIndex));
  const TextureTile& t = m_tiles[tileIndex];
  if (level < 0 || level >= t.levels())
    throw std::out_of_range("heatmap: no pyramid level " + std::to_string(level));
  int w = levelSize(t.cols, level);
  int h = levelSize(t.rows, level);
  const size_t bytes = static_cast<size_t>(w) * h * sizeof(float);
  constexpr size_t kMaxReadBack = 256u * 1024 * 1024;
  if (bytes > kMaxReadBack) throw std::invalid_argument("heatmap: level too large to read back");
  // Levels larger than the staging buffer go through a temporary one.
  Buffer temp;
  if (bytes > m_stagingBytes)
    temp = createHostBuffer(m_refs, bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
  const Buffer& dst = temp.buffer ? temp : m_staging;
  VkImage img = t.level(level, reduction).image.image;
  m_oneShot.run([&](VkCommandBuffer cb) {
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {static_cast<uint32_t>(w), static_cast<uint32_t>(h), 1};
    vkCmdCopyImageToBuffer(cb, img, VK_IMAGE_LAYOUT_GENERAL, dst.buffer, 1, &copy);
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                         0, nullptr, 0, nullptr);
  });
  std::vector<float> out(static_cast<size_t>(w) * h);
  std::memcpy(out.data(), dst.mapped, bytes);
  destroy(m_refs.device, temp);
  if (outRows) *outRows = h;
  if (outCols) *outCols = w;
  return out;
}

}  // namespace ll::vis::vk
