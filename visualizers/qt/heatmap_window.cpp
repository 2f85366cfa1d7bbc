#include "visualizers/qt/heatmap_window.h"

#include "visualizers/vk/heatmap_renderer.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QVulkanDeviceFunctions>
#include <QVulkanFunctions>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace ll::vis {
namespace {

// Adapts vk::HeatmapRenderer to QVulkanWindow's frame loop. This file includes Qt's Vulkan
// headers (VK_NO_PROTOTYPES), so it only calls Vulkan through QVulkanDeviceFunctions; the core
// it drives is compiled separately against the real prototypes.
class HeatmapWindowRenderer : public QVulkanWindowRenderer {
 public:
  explicit HeatmapWindowRenderer(HeatmapWindow* w) : m_window(w) {}

  void initResources() override {
    vk::DeviceRefs refs;
    refs.physical = m_window->physicalDevice();
    refs.device = m_window->device();
    refs.queue = m_window->graphicsQueue();
    refs.queueFamily = m_window->graphicsQueueFamilyIndex();
    m_devFuncs = m_window->vulkanInstance()->deviceFunctions(refs.device);
    try {
      m_core = std::make_unique<vk::HeatmapRenderer>(refs, m_window->defaultRenderPass(),
                                                     m_window->sampleCountFlagBits());
    } catch (const std::exception& e) {
      emit m_window->renderError(QString::fromUtf8(e.what()));
    }
    m_uploaded = 0;
    m_window->noteResourcesCreated();
  }

  void initSwapChainResources() override {
    if (m_window->view().cellsPerPixelX <= 0) m_window->fitView();
  }

  void releaseResources() override { m_core.reset(); }

  void startNextFrame() override {
    const QSize size = m_window->swapChainImageSize();
    if (m_core && m_uploaded != m_window->dataGeneration()) {
      m_uploaded = m_window->dataGeneration();
      try {
        if (auto m = m_window->matrix()) m_core->setMatrix(m->values, m->rows, m->cols);
      } catch (const std::exception& e) {
        emit m_window->renderError(QString::fromUtf8(e.what()));
      }
    }
    const HeatmapStyle& style = m_window->style();
    if (m_core) {
      m_core->setStyle(style);
      m_core->setMarker(m_window->marker());
    }
    VkClearValue clear[3]{};
    clear[0].color = {
        {style.backgroundRgb[0], style.backgroundRgb[1], style.backgroundRgb[2], 1.0f}};
    clear[1].depthStencil = {1.0f, 0};
    clear[2].color = clear[0].color;
    VkRenderPassBeginInfo bi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    bi.renderPass = m_window->defaultRenderPass();
    bi.framebuffer = m_window->currentFramebuffer();
    bi.renderArea.extent = {static_cast<uint32_t>(size.width()),
                            static_cast<uint32_t>(size.height())};
    bi.clearValueCount = m_window->sampleCountFlagBits() > VK_SAMPLE_COUNT_1_BIT ? 3 : 2;
    bi.pClearValues = clear;
    VkCommandBuffer cb = m_window->currentCommandBuffer();
    m_devFuncs->vkCmdBeginRenderPass(cb, &bi, VK_SUBPASS_CONTENTS_INLINE);
    // No matrix (a panel cleared for a model without this data): only the background; the core
    // still holds the previous upload, which must not be drawn.
    if (m_core && m_core->hasData() && m_window->matrix())
      m_core->recordDraw(cb, {0.0f, 0.0f, float(size.width()), float(size.height())},
                         m_window->view());
    m_devFuncs->vkCmdEndRenderPass(cb);
    m_window->frameReady();
    m_window->noteFrameRendered();
  }

 private:
  HeatmapWindow* m_window;
  QVulkanDeviceFunctions* m_devFuncs = nullptr;
  std::unique_ptr<vk::HeatmapRenderer> m_core;
  quint64 m_uploaded = 0;
};

}  // namespace

HeatmapWindow::HeatmapWindow(QWindow* parent) : QVulkanWindow(parent) {
  // lavapipe offers B8G8R8A8_SRGB first; an sRGB target would re-encode our colormap
  // bytes and wash the colours out, so ask for UNORM.
  setPreferredColorFormats({VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM});
  m_view.cellsPerPixelX = m_view.cellsPerPixelY = 0.0;  // "not fitted yet"
  // Without this, QVulkanWindow destroys its device, swapchain and our pipeline and texture as
  // soon as the window is fully covered (a modal dialog over it), and rebuilds them all when it
  // shows again: the view stayed blank meanwhile (seconds with a software rasteriser).
  setFlags(PersistentResources);
}

HeatmapWindow::~HeatmapWindow() = default;

QVulkanWindowRenderer* HeatmapWindow::createRenderer() {
  return new HeatmapWindowRenderer(this);
}

QString HeatmapWindow::deviceName() const {
  if (!isValid()) return {};
  return QString::fromUtf8(physicalDeviceProperties()->deviceName);
}

void HeatmapWindow::setMatrix(std::shared_ptr<const HeatmapMatrix> matrix) {
  const bool newShape =
      m_matrix && matrix && (m_matrix->rows != matrix->rows || m_matrix->cols != matrix->cols);
  m_matrix = std::move(matrix);
  ++m_dataGeneration;
  if (m_autoFit || m_view.cellsPerPixelX <= 0 || (newShape && m_refitOnNewShape)) fitView();
  requestUpdate();
}

void HeatmapWindow::setStyle(const HeatmapStyle& style) {
  m_style = style;
  requestUpdate();
}

void HeatmapWindow::setMarker(const HeatmapMarker& marker) {
  if (marker == m_marker) return;
  m_marker = marker;
  requestUpdate();
}

void HeatmapWindow::setView(const HeatmapView& view) {
  m_view = view;
  m_autoFit = false;
  clampView();
  emit viewChanged();
  requestUpdate();
}

void HeatmapWindow::fitView() {
  const QSize px = size() * devicePixelRatio();
  if (m_matrix)
    m_view =
        HeatmapView::fit(m_matrix->rows, m_matrix->cols, px.width(), px.height(), m_keepAspect);
  else
    m_view = HeatmapView{};
  m_autoFit = true;
  emit viewChanged();
  requestUpdate();
}

QPointF HeatmapWindow::cellAt(QPointF logicalPos) const {
  const double dpr = devicePixelRatio();
  return {m_view.originX + logicalPos.x() * dpr * m_view.cellsPerPixelX,
          m_view.originY + logicalPos.y() * dpr * m_view.cellsPerPixelY};
}

void HeatmapWindow::zoomAt(QPointF logicalPos, double factor) {
  if (!m_matrix || factor <= 0) return;
  const QPointF c = cellAt(logicalPos);
  const double dpr = devicePixelRatio();
  // Zooming in past 64 pixels per cell or out past the whole map plus margin helps nobody.
  const double minCpp = 1.0 / 64.0;
  const double maxCpp = 4.0 * std::max(m_matrix->rows, m_matrix->cols) / std::max(1, width());
  m_view.cellsPerPixelX = std::clamp(m_view.cellsPerPixelX / factor, minCpp, maxCpp);
  m_view.cellsPerPixelY = std::clamp(m_view.cellsPerPixelY / factor, minCpp, maxCpp);
  m_view.originX = c.x() - logicalPos.x() * dpr * m_view.cellsPerPixelX;
  m_view.originY = c.y() - logicalPos.y() * dpr * m_view.cellsPerPixelY;
  m_autoFit = false;
  clampView();
  emit viewChanged();
  requestUpdate();
}

void HeatmapWindow::panBy(QPointF logicalDelta) {
  const double dpr = devicePixelRatio();
  m_view.originX -= logicalDelta.x() * dpr * m_view.cellsPerPixelX;
  m_view.originY -= logicalDelta.y() * dpr * m_view.cellsPerPixelY;
  m_autoFit = false;
  clampView();
  emit viewChanged();
  requestUpdate();
}

void HeatmapWindow::clampView() {
  if (!m_matrix) return;
  // Keep at least a quarter of the viewport on the data.
  const QSize px = size() * devicePixelRatio();
  const double w = px.width() * m_view.cellsPerPixelX;
  const double h = px.height() * m_view.cellsPerPixelY;
  m_view.originX = std::clamp(m_view.originX, -0.75 * w, m_matrix->cols - 0.25 * w);
  m_view.originY = std::clamp(m_view.originY, -0.75 * h, m_matrix->rows - 0.25 * h);
}

void HeatmapWindow::noteFrameRendered() {
  ++m_frames;
  emit frameRendered();
}

void HeatmapWindow::mousePressEvent(QMouseEvent* e) {
  if (e->button() == Qt::LeftButton) {
    m_dragging = true;
    m_dragMoved = false;
    m_lastPos = e->position();
  }
}

void HeatmapWindow::mouseMoveEvent(QMouseEvent* e) {
  if (m_dragging) {
    const QPointF d = e->position() - m_lastPos;
    if (std::abs(d.x()) + std::abs(d.y()) > 0.5) {
      m_dragMoved = true;
      panBy(d);
      m_lastPos = e->position();
    }
  }
  if (!m_matrix) return;
  const QPointF c = cellAt(e->position());
  const int col = static_cast<int>(std::floor(c.x()));
  const int row = static_cast<int>(std::floor(c.y()));
  if (row >= 0 && col >= 0 && row < m_matrix->rows && col < m_matrix->cols) {
    m_hoverPos = e->position();
    emit hovered(row, col, m_matrix->at(row, col));
  } else
    emit hoverLeft();
}

void HeatmapWindow::mouseReleaseEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton) return;
  m_dragging = false;
  if (!m_dragMoved && m_matrix) {
    const QPointF c = cellAt(e->position());
    const int col = static_cast<int>(std::floor(c.x()));
    const int row = static_cast<int>(std::floor(c.y()));
    if (row >= 0 && col >= 0 && row < m_matrix->rows && col < m_matrix->cols)
      emit cellClicked(row, col);
  }
}

void HeatmapWindow::wheelEvent(QWheelEvent* e) {
  const double steps = e->angleDelta().y() / 120.0;
  zoomAt(e->position(), std::pow(1.25, steps));
}

void HeatmapWindow::keyPressEvent(QKeyEvent* e) {
  const QPointF centre(width() / 2.0, height() / 2.0);
  const double step = std::max(20, width() / 10);
  switch (e->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal:
      zoomAt(centre, 1.25);
      break;
    case Qt::Key_Minus:
      zoomAt(centre, 0.8);
      break;
    case Qt::Key_Left:
      panBy({step, 0});
      break;
    case Qt::Key_Right:
      panBy({-step, 0});
      break;
    case Qt::Key_Up:
      panBy({0, step});
      break;
    case Qt::Key_Down:
      panBy({0, -step});
      break;
    case Qt::Key_0:
    case Qt::Key_Home:
      fitView();
      break;
    default:
      QVulkanWindow::keyPressEvent(e);
  }
}

void HeatmapWindow::resizeEvent(QResizeEvent* e) {
  QVulkanWindow::resizeEvent(e);
  if (m_autoFit)
    fitView();
  else
    emit viewChanged();
}

bool HeatmapWindow::event(QEvent* e) {
  if (e->type() == QEvent::Leave) emit hoverLeft();
  return QVulkanWindow::event(e);
}

}  // namespace ll::vis
