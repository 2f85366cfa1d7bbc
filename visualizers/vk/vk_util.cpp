#include "visualizers/vk/vk_util.h"

namespace ll::vis::vk {

VulkanError::VulkanError(const std::string& what, VkResult result)
    : std::runtime_error(what), m_result(result) {}

const char* resultName(VkResult result) {
  switch (result) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_NOT_READY:
      return "VK_NOT_READY";
    case VK_TIMEOUT:
      return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
      return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
      return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
      return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
      return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    default:
      return "VkResult(other)";
  }
}

void check(VkResult result, const char* what) {
  if (result != VK_SUCCESS)
    throw VulkanError(std::string(what) + " failed: " + resultName(result) + " (" +
                          std::to_string(static_cast<int>(result)) + ")",
                      result);
}

uint32_t findMemoryType(VkPhysicalDevice physical, uint32_t typeBits, VkMemoryPropertyFlags flags) {
  VkPhysicalDeviceMemoryProperties props;
  vkGetPhysicalDeviceMemoryProperties(physical, &props);
  for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
    if ((typeBits & (1u << i)) && (props.memoryTypes[i].propertyFlags & flags) == flags) return i;
  throw VulkanError("no Vulkan memory type with the requested properties",
                    VK_ERROR_OUT_OF_DEVICE_MEMORY);
}

Buffer createHostBuffer(const DeviceRefs& refs, VkDeviceSize size, VkBufferUsageFlags usage) {
  Buffer b;
  b.size = size;
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = size;
  bi.usage = usage;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(refs.device, &bi, nullptr, &b.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(refs.device, b.buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  try {
    ai.memoryTypeIndex =
        findMemoryType(refs.physical, req.memoryTypeBits,
                       VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    check(vkAllocateMemory(refs.device, &ai, nullptr, &b.memory), "vkAllocateMemory(buffer)");
    check(vkBindBufferMemory(refs.device, b.buffer, b.memory, 0), "vkBindBufferMemory");
    check(vkMapMemory(refs.device, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
  } catch (...) {
    destroy(refs.device, b);
    throw;
  }
  return b;
}

void destroy(VkDevice device, Buffer& b) {
  if (b.mapped) vkUnmapMemory(device, b.memory);
  if (b.buffer) vkDestroyBuffer(device, b.buffer, nullptr);
  if (b.memory) vkFreeMemory(device, b.memory, nullptr);
  b = Buffer{};
}

Image createImage(const DeviceRefs& refs, uint32_t width, uint32_t height, uint32_t mipLevels,
                  VkFormat format, VkImageUsageFlags usage) {
  Image img;
  img.width = width;
  img.height = height;
  img.mipLevels = mipLevels;
  VkImageCreateInfo ii{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  ii.imageType = VK_IMAGE_TYPE_2D;
  ii.format = format;
  ii.extent = {width, height, 1};
  ii.mipLevels = mipLevels;
  ii.arrayLayers = 1;
  ii.samples = VK_SAMPLE_COUNT_1_BIT;
  ii.tiling = VK_IMAGE_TILING_OPTIMAL;
  ii.usage = usage;
  ii.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  ii.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  check(vkCreateImage(refs.device, &ii, nullptr, &img.image), "vkCreateImage");
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements(refs.device, img.image, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  img.bytes = req.size;
  try {
    ai.memoryTypeIndex =
        findMemoryType(refs.physical, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    check(vkAllocateMemory(refs.device, &ai, nullptr, &img.memory), "vkAllocateMemory(image)");
    check(vkBindImageMemory(refs.device, img.image, img.memory, 0), "vkBindImageMemory");
  } catch (...) {
    destroy(refs.device, img);
    throw;
  }
  return img;
}

void destroy(VkDevice device, Image& img) {
  if (img.image) vkDestroyImage(device, img.image, nullptr);
  if (img.memory) vkFreeMemory(device, img.memory, nullptr);
  img = Image{};
}

VkImageView createView(VkDevice device, VkImage image, VkFormat format, uint32_t baseMip,
                       uint32_t mipCount) {
  VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
  vi.image = image;
  vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
  vi.format = format;
  vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, baseMip, mipCount, 0, 1};
  VkImageView view = VK_NULL_HANDLE;
  check(vkCreateImageView(device, &vi, nullptr, &view), "vkCreateImageView");
  return view;
}

VkShaderModule createShaderModule(VkDevice device, std::span<const uint32_t> spirv) {
  VkShaderModuleCreateInfo si{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  si.codeSize = spirv.size_bytes();
  si.pCode = spirv.data();
  VkShaderModule m = VK_NULL_HANDLE;
  check(vkCreateShaderModule(device, &si, nullptr, &m), "vkCreateShaderModule");
  return m;
}

void imageBarrier(VkCommandBuffer cb, VkImage image, VkImageLayout from, VkImageLayout to,
                  VkAccessFlags srcAccess, VkAccessFlags dstAccess, VkPipelineStageFlags srcStage,
                  VkPipelineStageFlags dstStage, uint32_t baseMip, uint32_t mipCount) {
  VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  b.srcAccessMask = srcAccess;
  b.dstAccessMask = dstAccess;
  b.oldLayout = from;
  b.newLayout = to;
  b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.image = image;
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, baseMip, mipCount, 0, 1};
  vkCmdPipelineBarrier(cb, srcStage, dstStage, 0, 0, nullptr, 0, nullptr, 1, &b);
}

OneShot::OneShot(const DeviceRefs& refs) : m_refs(refs) {
  VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = refs.queueFamily;
  check(vkCreateCommandPool(refs.device, &pi, nullptr, &m_pool), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = m_pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  try {
    check(vkAllocateCommandBuffers(refs.device, &ai, &m_cb), "vkAllocateCommandBuffers");
    check(vkCreateFence(refs.device, &fi, nullptr, &m_fence), "vkCreateFence");
  } catch (...) {
    vkDestroyCommandPool(refs.device, m_pool, nullptr);
    throw;
  }
}

OneShot::~OneShot() {
  vkDestroyFence(m_refs.device, m_fence, nullptr);
  vkDestroyCommandPool(m_refs.device, m_pool, nullptr);
}

void OneShot::run(const std::function<void(VkCommandBuffer)>& record) {
  check(vkResetCommandBuffer(m_cb, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(m_cb, &bi), "vkBeginCommandBuffer");
  record(m_cb);
  check(vkEndCommandBuffer(m_cb), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &m_cb;
  check(vkResetFences(m_refs.device, 1, &m_fence), "vkResetFences");
  check(vkQueueSubmit(m_refs.queue, 1, &si, m_fence), "vkQueueSubmit");
  check(vkWaitForFences(m_refs.device, 1, &m_fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
}

}  // namespace ll::vis::vk
