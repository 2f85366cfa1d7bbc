#include "visualizers/qt/head_grid_view.h"

#include "visualizers/qt/head_grid_axis.h"
#include "visualizers/qt/heatmap_window.h"

#include <QGridLayout>
#include <QLabel>
#include <QToolTip>
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
  // Labels in widgets beside the native window (nothing can be painted over it).
  auto* grid = new QGridLayout;
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(0);
  m_heads = new HeadGridAxis(HeadGridAxis::Edge::Top, tr("H"), this);
  m_layers = new HeadGridAxis(HeadGridAxis::Edge::Left, tr("L"), this);
  m_window = new HeatmapWindow;
  m_window->setVulkanInstance(instance);
  m_window->setKeepAspect(true);
  m_window->setRefitOnNewShape(true);
  m_container = QWidget::createWindowContainer(m_window, this);
  m_container->setMinimumSize(120, 60);
  grid->addWidget(m_heads, 0, 1);
  grid->addWidget(m_layers, 1, 0);
  grid->addWidget(m_container, 1, 1);
  grid->setRowStretch(1, 1);
  grid->setColumnStretch(1, 1);
  v->addLayout(grid, 1);
  connect(m_window, &HeatmapWindow::viewChanged, this, &HeadGridView::syncAxes);
  connect(m_window, &HeatmapWindow::cellClicked, this, [this](int row, int col) {
    if (!m_atlas) return;
    if (auto hit = m_atlas->hitTest(col + 0.5, row + 0.5)) emit headSelected(hit->layer, hit->head);
  });
  connect(m_window, &HeatmapWindow::hovered, this, [this](int row, int col, float value) {
    if (!m_atlas) return;
    const auto hit = m_atlas->hitTest(col + 0.5, row + 0.5);
    if (!hit) return QToolTip::hideText();  // a gap between tiles
    if (m_container->isVisible())
      QToolTip::showText(m_window->mapToGlobal(m_window->hoverPos().toPoint()),
                         hoverReadout(*hit, value), m_container);
    emit headHovered(hit->layer, hit->head, hit->query, hit->key, value);
  });
  connect(m_window, &HeatmapWindow::hoverLeft, this, [] { QToolTip::hideText(); });
}

void HeadGridView::setAttention(std::span<const float> attention, int nLayer, int nHead,
                                int nTokens, const QStringList& tokens, int firstToken) {
  m_atlas = std::make_shared<HeadGridAtlas>(buildHeadGridAtlas(attention, nLayer, nHead, nTokens));
  m_tokens = tokens;
  m_firstToken = firstToken;
  m_caption->setText(
      tr("%1 layers x %2 heads, %3 tokens%4: click a head to open it")
          .arg(nLayer)
          .arg(nHead)
          .arg(nTokens)
          .arg(m_atlas->block > 1 ? tr(" (max-pooled %1x)").arg(m_atlas->block) : QString()));
  if (m_window) {
    const int pitch = m_atlas->side + m_atlas->gap;
    m_layers->setBands(nLayer, pitch, m_atlas->side);
    m_heads->setBands(nHead, pitch, m_atlas->side);
    // The matrix shares the atlas' storage through an aliasing shared_ptr.
    m_window->setMatrix(std::shared_ptr<const HeatmapMatrix>(m_atlas, &m_atlas->matrix));
    syncMarker();
  }
}

void HeadGridView::clear() {
  m_atlas.reset();
  m_tokens.clear();
  m_caption->setText(tr("layers (rows) x heads (columns): click a head to open it"));
  if (m_window) {
    m_layers->setBands(0, 1, 1);
    m_heads->setBands(0, 1, 1);
    m_window->setMatrix(nullptr);
    syncMarker();
  }
}

void HeadGridView::setStyle(const HeatmapStyle& style) {
  if (m_window) m_window->setStyle(style);
}

void HeadGridView::setSelectedHead(int layer, int head) {
  m_selLayer = layer;
  m_selHead = head;
  syncMarker();
}

void HeadGridView::syncMarker() {
  if (!m_window) return;
  HeatmapMarker m;
  m.kind = HeatmapMarker::Kind::Box;
  if (m_atlas && m_selLayer >= 0 && m_selLayer < m_atlas->nLayer && m_selHead < m_atlas->nHead) {
    const int pitch = m_atlas->side + m_atlas->gap;
    m.row0 = m_selLayer * pitch;
    m.row1 = m.row0 + m_atlas->side;
    m.col0 = m_selHead >= 0 ? m_selHead * pitch : 0;
    m.col1 = m_selHead >= 0 ? m.col0 + m_atlas->side : m_atlas->matrix.cols;
  }
  m_window->setMarker(m);
}

void HeadGridView::syncAxes() {
  const HeatmapView& v = m_window->view();
  const double dpr = m_window->devicePixelRatio();
  // The axes sit flush with the container, so their pixel 0 is the window's pixel 0.
  m_layers->setMapping(v.originY, v.cellsPerPixelY * dpr);
  m_heads->setMapping(v.originX, v.cellsPerPixelX * dpr);
}

QString HeadGridView::hoverReadout(const HeadGridAtlas::Hit& hit, float value) const {
  // A pooled cell covers block x block tokens: name the first and last.
  auto tokens = [this](int first) {
    const int last = std::min(m_atlas->nTokens, first + m_atlas->block) - 1;
    auto one = [this](int i) {
      QString s = QString::number(m_firstToken + i);
      if (i < m_tokens.size())
        s += QStringLiteral(" \u201c%1\u201d").arg(m_tokens[i].toHtmlEscaped());
      return s;
    };
    return last > first ? one(first) + QStringLiteral(" \u2013 ") + one(last) : one(first);
  };
  return QStringLiteral("<qt><b>%1</b><br>%2 %3<br>%4 %5<br>%6 %7</qt>")
      .arg(tr("layer %1, head %2").arg(hit.layer).arg(hit.head), tr("query"), tokens(hit.query),
           tr("key"), tokens(hit.key), m_atlas->block > 1 ? tr("max") : tr("value"),
           QString::number(double(value), 'g', 4));
}

}  // namespace ll::vis
