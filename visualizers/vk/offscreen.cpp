#include "visualizers/vk/offscreen.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ll::vis::vk {

OffscreenContext::OffscreenContext(bool preferLavapipe) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "LayerLens offscreen";
  app.apiVersion = VK_API_VERSION_1_0;
  VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ii.pApplicationInfo = &app;
  const char* env = std::getenv("LAYERLENS_VK_VALIDATION");
  const bool validate = env && std::strcmp(env, "1") == 0;
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  if (validate) {
    ii.enabledLayerCount = 1;
    ii.ppEnabledLayerNames = &layer;
    ii.enabledExtensionCount = 1;
    ii.ppEnabledExtensionNames = &ext;
  }
  VkResult r = vkCreateInstance(&ii, nullptr, &m_instance);
  if (r != VK_SUCCESS)
    throw NoVulkanDevice(std::string("vkCreateInstance failed: ") + resultName(r) +
                         (validate ? " (with the validation layer requested)" : ""));
  if (validate) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(m_instance, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
    mi.pfnUserCallback = &OffscreenContext::onValidation;
    mi.pUserData = this;
    if (!create || create(m_instance, &mi, nullptr, &m_messenger) != VK_SUCCESS) {
      vkDestroyInstance(m_instance, nullptr);
      throw NoVulkanDevice("LAYERLENS_VK_VALIDATION=1 but the debug messenger is unavailable");
    }
  }
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(m_instance, &n, nullptr);
  std::vector<VkPhysicalDevice> devices(n);
  if (n) vkEnumeratePhysicalDevices(m_instance, &n, devices.data());
  int best = -1;
  uint32_t bestFamily = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &nq, qf.data());
    for (uint32_t q = 0; q < nq; ++q) {
      const VkQueueFlags need = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
      if ((qf[q].queueFlags & need) != need) continue;
      VkPhysicalDeviceProperties props;
      vkGetPhysicalDeviceProperties(devices[i], &props);
      bool lavapipe = std::string(props.deviceName).find("llvmpipe") != std::string::npos;
      if (best < 0 || (preferLavapipe && lavapipe)) {
        best = static_cast<int>(i);
        bestFamily = q;
        m_deviceName = props.deviceName;
      }
      break;
    }
  }
  if (best < 0) {
    destroyMessenger();
    vkDestroyInstance(m_instance, nullptr);
    throw NoVulkanDevice("no Vulkan device with a graphics+compute queue (" + std::to_string(n) +
                         " devices found)");
  }
  m_refs.physical = devices[best];
  m_refs.queueFamily = bestFamily;
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = bestFamily;
  qi.queueCount = 1;
  qi.pQueuePriorities = &prio;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  r = vkCreateDevice(m_refs.physical, &di, nullptr, &m_refs.device);
  if (r != VK_SUCCESS) {
    destroyMessenger();
    vkDestroyInstance(m_instance, nullptr);
    throw NoVulkanDevice(std::string("vkCreateDevice failed: ") + resultName(r));
  }
  vkGetDeviceQueue(m_refs.device, bestFamily, 0, &m_refs.queue);
}

OffscreenContext::~OffscreenContext() {
  vkDeviceWaitIdle(m_refs.device);
  vkDestroyDevice(m_refs.device, nullptr);
  destroyMessenger();
  vkDestroyInstance(m_instance, nullptr);
}

void OffscreenContext::destroyMessenger() {
  if (!m_messenger) return;
  auto destroyFn = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(m_instance, "vkDestroyDebugUtilsMessengerEXT"));
  if (destroyFn) destroyFn(m_instance, m_messenger, nullptr);
  m_messenger = VK_NULL_HANDLE;
}

VKAPI_ATTR VkBool32 VKAPI_CALL OffscreenContext::onValidation(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* self = static_cast<OffscreenContext*>(user);
  ++self->m_validationMessages;
  std::fprintf(stderr, "vulkan validation %s: %s\n",
               severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
               data && data->pMessage ? data->pMessage : "(no message)");
  return VK_FALSE;
}

bool OffscreenContext::isLavapipe() const {
  return m_deviceName.find("llvmpipe") != std::string::npos;
}

OffscreenTarget::OffscreenTarget(const DeviceRefs& refs, uint32_t width, uint32_t height)
    : m_refs(refs), m_width(width), m_height(height), m_oneShot(refs) {
  try {
    m_color = createImage(refs, width, height, 1, kFormat,
                          VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    m_view = createView(refs.device, m_color.image, kFormat, 0, 1);
    VkAttachmentDescription att{};
    att.format = kFormat;
    att.samples = VK_SAMPLE_COUNT_1_BIT;
    att.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    att.finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &ref;
    VkSubpassDependency dep{};
    dep.srcSubpass = 0;
    dep.dstSubpass = VK_SUBPASS_EXTERNAL;
    dep.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dep.dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
    dep.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    dep.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rp.attachmentCount = 1;
    rp.pAttachments = &att;
    rp.subpassCount = 1;
    rp.pSubpasses = &sub;
    rp.dependencyCount = 1;
    rp.pDependencies = &dep;
    check(vkCreateRenderPass(refs.device, &rp, nullptr, &m_renderPass), "vkCreateRenderPass");
    VkFramebufferCreateInfo fb{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fb.renderPass = m_renderPass;
    fb.attachmentCount = 1;
    fb.pAttachments = &m_view;
    fb.width = width;
    fb.height = height;
    fb.layers = 1;
    check(vkCreateFramebuffer(refs.device, &fb, nullptr, &m_framebuffer), "vkCreateFramebuffer");
    m_readback = createHostBuffer(refs, static_cast<VkDeviceSize>(width) * height * 4,
                                  VK_BUFFER_USAGE_TRANSFER_DST_BIT);
  } catch (...) {
    release();
    throw;
  }
}

OffscreenTarget::~OffscreenTarget() {
  release();
}

void OffscreenTarget::release() {
  destroy(m_refs.device, m_readback);
  if (m_framebuffer) vkDestroyFramebuffer(m_refs.device, m_framebuffer, nullptr);
  if (m_renderPass) vkDestroyRenderPass(m_refs.device, m_renderPass, nullptr);
  if (m_view) vkDestroyImageView(m_refs.device, m_view, nullptr);
  m_framebuffer = VK_NULL_HANDLE;
  m_renderPass = VK_NULL_HANDLE;
  m_view = VK_NULL_HANDLE;
  destroy(m_refs.device, m_color);
}

std::vector<uint8_t> OffscreenTarget::render(const float clearRgb[3],
                                             const std::function<void(VkCommandBuffer)>& record,
                                             bool readBack) {
  m_oneShot.run([&](VkCommandBuffer cb) {
    VkClearValue clear{};
    clear.color = {{clearRgb[0], clearRgb[1], clearRgb[2], 1.0f}};
    VkRenderPassBeginInfo bi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    bi.renderPass = m_renderPass;
    bi.framebuffer = m_framebuffer;
    bi.renderArea = {{0, 0}, {m_width, m_height}};
    bi.clearValueCount = 1;
    bi.pClearValues = &clear;
    vkCmdBeginRenderPass(cb, &bi, VK_SUBPASS_CONTENTS_INLINE);
    record(cb);
    vkCmdEndRenderPass(cb);
    if (!readBack) return;
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {m_width, m_height, 1};
    vkCmdCopyImageToBuffer(cb, m_color.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                           m_readback.buffer, 1, &copy);
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                         0, nullptr, 0, nullptr);
  });
  if (!readBack) return {};
  std::vector<uint8_t> pixels(static_cast<size_t>(m_width) * m_height * 4);
  std::memcpy(pixels.data(), m_readback.mapped, pixels.size());
  return pixels;
}

}  // namespace ll::vis::vk
