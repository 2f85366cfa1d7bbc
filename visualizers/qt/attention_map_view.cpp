#include "visualizers/qt/attention_map_view.h"

#include "visualizers/qt/heatmap_window.h"
#include "visualizers/qt/token_axis.h"

#include <QGridLayout>
#include <QLabel>
#include <QVulkanInstance>

namespace ll::vis {

AttentionMapView::AttentionMapView(QVulkanInstance* instance, QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(0);
  m_top = new TokenAxis(TokenAxis::Edge::Top, this);
  m_left = new TokenAxis(TokenAxis::Edge::Left, this);
  grid->addWidget(m_top, 0, 1);
  grid->addWidget(m_left, 1, 0);
  if (!instance || !instance->isValid()) {
    auto* label =
        new QLabel(tr("Vulkan is not available: the attention map cannot be drawn."), this);
    label->setAlignment(Qt::AlignCenter);
    label->setWordWrap(true);
    m_top->hide();  // nothing to label
    m_left->hide();
    m_container = label;
  } else {
    m_window = new HeatmapWindow;
    m_window->setVulkanInstance(instance);
    m_container = QWidget::createWindowContainer(m_window, this);
    m_container->setFocusPolicy(Qt::StrongFocus);
    m_container->setMinimumSize(160, 120);
    connect(m_window, &HeatmapWindow::viewChanged, this, &AttentionMapView::syncAxes);
    connect(m_window, &HeatmapWindow::hovered, this, [this](int row, int col, float v) {
      emit hovered(row < m_queries.size() ? m_queries[row] : QString::number(row),
                   col < m_keys.size() ? m_keys[col] : QString::number(col), v, row, col);
    });
    connect(m_window, &HeatmapWindow::cellClicked, this, &AttentionMapView::cellClicked);
  }
  grid->addWidget(m_container, 1, 1);
  grid->setRowStretch(1, 1);
  grid->setColumnStretch(1, 1);
}

void AttentionMapView::setMatrix(std::shared_ptr<const HeatmapMatrix> matrix,
                                 const QStringList& queryTokens, const QStringList& keyTokens) {
  m_queries = queryTokens;
  m_keys = keyTokens;
  m_top->setLabels(keyTokens);
  m_left->setLabels(queryTokens);
  if (m_window) m_window->setMatrix(std::move(matrix));
  syncAxes();
}

void AttentionMapView::setStyle(const HeatmapStyle& style) {
  if (m_window) m_window->setStyle(style);
}

void AttentionMapView::syncAxes() {
  if (!m_window) return;
  const HeatmapView& v = m_window->view();
  const double dpr = m_window->devicePixelRatio();
  m_top->setMapping(v.originX, v.cellsPerPixelX * dpr, 0);
  m_left->setMapping(v.originY, v.cellsPerPixelY * dpr, 0);
}

}  // namespace ll::vis
