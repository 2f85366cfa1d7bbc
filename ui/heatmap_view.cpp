#include "ui/heatmap_view.h"

#include "ui/narrow.h"
#include "ui/theme.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/heatmap_export.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

namespace ll::ui {

HeatmapView::HeatmapView(QVulkanInstance* instance, QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  auto* bar = new QHBoxLayout;
  m_colormap = new QComboBox(this);
  m_colormap->addItems({tr("viridis"), tr("magma"), tr("diverging")});
  m_norm = new QComboBox(this);
  m_norm->addItems({tr("linear"), tr("log"), tr("per row")});
  m_lod = new QComboBox(this);
  m_lod->addItems({tr("zoomed out: max"), tr("zoomed out: mean")});
  bar->addWidget(new QLabel(tr("Colormap"), this));
  bar->addWidget(m_colormap);
  bar->addWidget(new QLabel(tr("Scale"), this));
  bar->addWidget(m_norm);
  bar->addWidget(m_lod);
  bar->addStretch(1);
  v->addLayout(bar);
  m_map = new vis::AttentionMapView(instance, this);
  v->addWidget(m_map, 1);
  m_style.causalMask = true;
  for (QComboBox* c : {m_colormap, m_norm, m_lod}) allowNarrow(c, 70);
  for (QComboBox* c : {m_colormap, m_norm, m_lod})
    connect(c, &QComboBox::currentIndexChanged, this, &HeatmapView::applyStyle);
  connect(m_map, &vis::AttentionMapView::hovered, this,
          [this](const QString& q, const QString& k, float value, int row, int col) {
            emit hoverText(tr("query %1 \"%2\"  key %3 \"%4\"  value %5")
                               .arg(row)
                               .arg(q)
                               .arg(col)
                               .arg(k)
                               .arg(double(value), 0, 'g', 4));
          });
  applyStyle();
}

void HeatmapView::applyStyle() {
  m_style.colormap = static_cast<vis::Colormap>(m_colormap->currentIndex());
  m_style.normalization = static_cast<vis::Normalization>(m_norm->currentIndex());
  m_style.lod = m_lod->currentIndex() == 1 ? vis::LodReduction::Mean : vis::LodReduction::Max;
  applyHeatmapTheme(m_style, currentTheme());
  m_map->setStyle(m_style);
}

void HeatmapView::changeEvent(QEvent* e) {
  QWidget::changeEvent(e);
  // applyTheme sets the application palette: the map's own colours (mask, background) follow.
  if (e->type() == QEvent::PaletteChange) applyStyle();
}

void HeatmapView::setAttention(std::shared_ptr<const vis::HeatmapMatrix> matrix,
                               const QStringList& tokens) {
  m_matrix = matrix;
  const int window = matrix ? matrix->maskWindow : 0;
  if (window != m_style.maskWindow) {  // a sliding-window layer: its band is drawn as masked
    m_style.maskWindow = window;
    m_map->setStyle(m_style);
  }
  m_map->setMatrix(std::move(matrix), tokens, tokens);
}

bool HeatmapView::exportImage(const QString& path, QString* error) {
  if (!m_matrix) {
    if (error) *error = tr("nothing to export");
    return false;
  }
  return vis::exportHeatmapPng(*m_matrix, m_style, path, error);
}

}  // namespace ll::ui
