#include "visualizers/qt/head_grid_view.h"

#include "visualizers/qt/heatmap_window.h"

#include <QLabel>
#include <QVBoxLayout>
#include <QVulkanInstance>

namespace ll::vis {

HeadGridView::HeadGridView(QVulkanInstance* instance, QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  m_caption = new QLabel(tr("layers (rows) x heads (columns): click a head to open it"), this);
  m_caption->setWordWrap(true);  // wraps rather than widening the dock on a small screen
  v->addWidget(m_caption);
  if (!instance || !instance->isValid()) {
    v->addWidget(new QLabel(tr("Vulkan is not available."), this), 1);
    return;
  }
  m_window = new HeatmapWindow;
  m_window->setVulkanInstance(instance);
  m_window->setKeepAspect(true);
  QWidget* container = QWidget::createWindowContainer(m_window, this);
  container->setMinimumSize(160, 120);
  v->addWidget(container, 1);
  connect(m_window, &HeatmapWindow::cellClicked, this, [this](int row, int col) {
    if (!m_atlas) return;
    if (auto hit = m_atlas->hitTest(col + 0.5, row + 0.5)) emit headSelected(hit->layer, hit->head);
  });
  connect(m_window, &HeatmapWindow::hovered, this, [this](int row, int col, float value) {
    if (!m_atlas) return;
    if (auto hit = m_atlas->hitTest(col + 0.5, row + 0.5))
      emit headHovered(hit->layer, hit->head, hit->query, hit->key, value);
  });
}

void HeadGridView::setAttention(std::span<const float> attention, int nLayer, int nHead,
                                int nTokens) {
  m_atlas = std::make_shared<HeadGridAtlas>(buildHeadGridAtlas(attention, nLayer, nHead, nTokens));
  m_caption->setText(
      tr("%1 layers x %2 heads, %3 tokens%4: click a head to open it")
          .arg(nLayer)
          .arg(nHead)
          .arg(nTokens)
          .arg(m_atlas->block > 1 ? tr(" (max-pooled %1x)").arg(m_atlas->block) : QString()));
  if (m_window) {
    // The matrix shares the atlas' storage through an aliasing shared_ptr.
    m_window->setMatrix(std::shared_ptr<const HeatmapMatrix>(m_atlas, &m_atlas->matrix));
  }
}

void HeadGridView::clear() {
  m_atlas.reset();
  m_caption->setText(tr("layers (rows) x heads (columns): click a head to open it"));
  if (m_window) m_window->setMatrix(nullptr);
}

void HeadGridView::setStyle(const HeatmapStyle& style) {
  if (m_window) m_window->setStyle(style);
}

}  // namespace ll::vis
