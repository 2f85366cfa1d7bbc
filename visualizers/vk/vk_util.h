// Small plain-Vulkan helpers shared by the heatmap core and the offscreen path: error checks,
// memory-type choice, owned buffers/images and one-shot command submission. Includes only
// <vulkan/vulkan.h> (never Qt's Vulkan headers, which define VK_NO_PROTOTYPES).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

namespace ll::vis::vk {

// Thrown for any failed Vulkan call; the message names the call and the VkResult.
class VulkanError : public std::runtime_error {
 public:
  VulkanError(const std::string& what, VkResult result);
  VkResult result() const { return m_result; }

 private:
  VkResult m_result;
};

void check(VkResult result, const char* what);
const char* resultName(VkResult result);

// The handles a renderer needs from whoever owns the device (Qt's QVulkanWindow or the
// offscreen context). The queue must support graphics and compute.
struct DeviceRefs {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queueFamily = 0;
};

uint32_t findMemoryType(VkPhysicalDevice physical, uint32_t typeBits, VkMemoryPropertyFlags flags);

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;  // host-visible buffers stay mapped
};
Buffer createHostBuffer(const DeviceRefs& refs, VkDeviceSize size, VkBufferUsageFlags usage);
void destroy(VkDevice device, Buffer& buffer);

struct Image {
  VkImage image = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t mipLevels = 1;
  VkDeviceSize bytes = 0;
};
Image createImage(const DeviceRefs& refs, uint32_t width, uint32_t height, uint32_t mipLevels,
                  VkFormat format, VkImageUsageFlags usage);
void destroy(VkDevice device, Image& image);
VkImageView createView(VkDevice device, VkImage image, VkFormat format, uint32_t baseMip,
                       uint32_t mipCount);

VkShaderModule createShaderModule(VkDevice device, std::span<const uint32_t> spirv);

// Barrier covering all mips of a colour image.
void imageBarrier(VkCommandBuffer cb, VkImage image, VkImageLayout from, VkImageLayout to,
                  VkAccessFlags srcAccess, VkAccessFlags dstAccess, VkPipelineStageFlags srcStage,
                  VkPipelineStageFlags dstStage, uint32_t baseMip = 0,
                  uint32_t mipCount = VK_REMAINING_MIP_LEVELS);

// A command pool plus a fence for synchronous "record, submit, wait" work (uploads, pyramid
// builds, offscreen frames). Not for per-frame work inside a swapchain renderer.
class OneShot {
 public:
  explicit OneShot(const DeviceRefs& refs);
  ~OneShot();
  OneShot(const OneShot&) = delete;
  OneShot& operator=(const OneShot&) = delete;
  void run(const std::function<void(VkCommandBuffer)>& record);

 private:
  DeviceRefs m_refs;
  VkCommandPool m_pool = VK_NULL_HANDLE;
  VkCommandBuffer m_cb = VK_NULL_HANDLE;
  VkFence m_fence = VK_NULL_HANDLE;
};

}  // namespace ll::vis::vk
