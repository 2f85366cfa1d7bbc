#include "visualizers/qt/attention_map_view.h"

#include "visualizers/qt/color_bar.h"
#include "visualizers/qt/heatmap_window.h"
#include "visualizers/qt/token_axis.h"

#include <QGridLayout>
#include <QLabel>
#include <QToolTip>
#include <QVulkanInstance>

namespace ll::vis {

AttentionMapView::AttentionMapView(QVulkanInstance* instance, QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(0);
  m_top = new TokenAxis(TokenAxis::Edge::Top, this);
  m_left = new TokenAxis(TokenAxis::Edge::Left, this);
  m_colorBar = new ColorBar(this);
  grid->addWidget(m_top, 0, 1);
  grid->addWidget(m_left, 1, 0);
  grid->addWidget(m_colorBar, 1, 2);
  if (!instance || !instance->isValid()) {
    auto* label =
        new QLabel(tr("Vulkan is not available: the attention map cannot be drawn."), this);
    label->setAlignment(Qt::AlignCenter);
    label->setWordWrap(true);
    m_top->hide();  // nothing to label
    m_left->hide();
    m_colorBar->hide();
    m_container = label;
  } else {
    m_window = new HeatmapWindow;
    m_window->setVulkanInstance(instance);
    m_container = QWidget::createWindowContainer(m_window, this);
    m_container->setFocusPolicy(Qt::StrongFocus);
    m_container->setMinimumSize(160, 120);
    connect(m_window, &HeatmapWindow::viewChanged, this, &AttentionMapView::syncAxes);
    connect(m_window, &HeatmapWindow::hovered, this, [this](int row, int col, float v) {
      showReadout(row, col, v);
      emit hovered(row < m_queries.size() ? m_queries[row] : QString::number(row),
                   col < m_keys.size() ? m_keys[col] : QString::number(col), v, row, col);
    });
    connect(m_window, &HeatmapWindow::hoverLeft, this, [] { QToolTip::hideText(); });
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
  m_matrix = matrix;
  if (m_window) m_window->setMatrix(std::move(matrix));
  syncAxes();
  syncColorBar();
}

void AttentionMapView::setStyle(const HeatmapStyle& style) {
  m_style = style;
  if (m_window) m_window->setStyle(style);
  syncColorBar();
}

void AttentionMapView::syncColorBar() {
  m_range = m_matrix ? resolveRange(m_style, *m_matrix) : ResolvedRange{};
  m_colorBar->setScale(m_style.colormap, m_style.normalization, m_range, m_matrix != nullptr);
}

void AttentionMapView::setSelection(int row, int col) {
  m_selRow = row;
  m_selCol = col;
  HeatmapMarker m;
  m.kind = HeatmapMarker::Kind::Crosshair;
  if (row >= 0) {
    m.row0 = row;
    m.row1 = row + 1;
  }
  if (col >= 0) {
    m.col0 = col;
    m.col1 = col + 1;
  }
  if (m_window) m_window->setMarker(m);
}

QString AttentionMapView::hoverReadout(int row, int col, float value) const {
  // Rich text on purpose: a plain "<s>" label would make QToolTip guess HTML and strike it out.
  auto token = [](const QStringList& labels, int i) {
    return i < labels.size() ? QStringLiteral(" \u201c%1\u201d").arg(labels[i].toHtmlEscaped())
                             : QString();
  };
  return QStringLiteral(
             "<qt><table cellspacing='0'>"
             "<tr><td>%1&nbsp;</td><td><b>%2</b>%3</td></tr>"
             "<tr><td>%4&nbsp;</td><td><b>%5</b>%6</td></tr>"
             "<tr><td>%7&nbsp;</td><td>%8</td></tr></table></qt>")
      .arg(tr("query"), QString::number(row), token(m_queries, row), tr("key"),
           QString::number(col), token(m_keys, col), tr("value"),
           QString::number(double(value), 'g', 4));
}

void AttentionMapView::showReadout(int row, int col, float value) {
  if (!m_window || !m_container->isVisible()) return;
  const QPoint global = m_window->mapToGlobal(m_window->hoverPos().toPoint());
  QToolTip::showText(global, hoverReadout(row, col, value), m_container);
}

void AttentionMapView::syncAxes() {
  if (!m_window) return;
  const HeatmapView& v = m_window->view();
  const double dpr = m_window->devicePixelRatio();
  m_top->setMapping(v.originX, v.cellsPerPixelX * dpr, 0);
  m_left->setMapping(v.originY, v.cellsPerPixelY * dpr, 0);
}

}  // namespace ll::vis
