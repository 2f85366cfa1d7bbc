// The raw offscreen Vulkan path (own VkInstance, no surface): picks a device (lavapipe when
// present, so tests are deterministic), renders into an RGBA8 UNORM image and reads the pixels
// back. Serves render tests, benchmarks and image export without a window system.
#pragma once

#include "visualizers/vk/vk_util.h"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ll::vis::vk {

// No Vulkan instance could be created or it has no usable device (no driver / ICD hidden).
class NoVulkanDevice : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OffscreenContext {
 public:
  explicit OffscreenContext(bool preferLavapipe = true);
  ~OffscreenContext();
  OffscreenContext(const OffscreenContext&) = delete;
  OffscreenContext& operator=(const OffscreenContext&) = delete;

  const DeviceRefs& refs() const { return m_refs; }
  const std::string& deviceName() const { return m_deviceName; }
  bool isLavapipe() const;  // mesa's CPU driver ("llvmpipe")

  // With LAYERLENS_VK_VALIDATION=1 the Khronos validation layer is enabled and its errors and
  // warnings are printed to stderr and counted here (tests assert zero).
  bool validationEnabled() const { return m_messenger != VK_NULL_HANDLE; }
  int validationMessages() const { return m_validationMessages; }

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL onValidation(
      VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
      const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);
  void destroyMessenger();

  VkInstance m_instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT m_messenger = VK_NULL_HANDLE;
  int m_validationMessages = 0;
  DeviceRefs m_refs;
  std::string m_deviceName;
};

// An RGBA8 UNORM colour target with its render pass; render() clears it, lets the caller
// record draws inside the pass, and returns the pixels (row-major, top row first, RGBA).
class OffscreenTarget {
 public:
  static constexpr VkFormat kFormat = VK_FORMAT_R8G8B8A8_UNORM;

  OffscreenTarget(const DeviceRefs& refs, uint32_t width, uint32_t height);
  ~OffscreenTarget();
  OffscreenTarget(const OffscreenTarget&) = delete;
  OffscreenTarget& operator=(const OffscreenTarget&) = delete;

  VkRenderPass renderPass() const { return m_renderPass; }
  uint32_t width() const { return m_width; }
  uint32_t height() const { return m_height; }
  // readBack false: draw only (benchmarks), returns an empty vector.
  std::vector<uint8_t> render(const float clearRgb[3],
                              const std::function<void(VkCommandBuffer)>& record,
                              bool readBack = true);

 private:
  void release();

  DeviceRefs m_refs;
  uint32_t m_width = 0;
  uint32_t m_height = 0;
  Image m_color;
  VkImageView m_view = VK_NULL_HANDLE;
  VkRenderPass m_renderPass = VK_NULL_HANDLE;
  VkFramebuffer m_framebuffer = VK_NULL_HANDLE;
  Buffer m_readback;
  OneShot m_oneShot;
};

}  // namespace ll::vis::vk
