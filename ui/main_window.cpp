#include "ui/main_window.h"

#include "ui/demo_data.h"
#include "ui/heatmap_view.h"
#include "ui/plot_panel.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/heatmap_window.h"
#include "visualizers/qt/token_overlay_view.h"

#include <QApplication>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QVBoxLayout>
#include <QVulkanInstance>

namespace ll::ui {

MainWindow::MainWindow(QVulkanInstance* instance, QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("LayerLens"));
  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* left = new QSplitter(Qt::Vertical, split);
  m_prompt = new QPlainTextEdit(left);
  m_prompt->setPlaceholderText(tr("Type a prompt..."));
  m_prompt->setPlainText(QStringLiteral(
      "The quick brown fox jumps over the lazy dog because the dog was asleep in the sun"));
  auto* right = new QSplitter(Qt::Vertical, split);
  m_heatmap = new HeatmapView(instance, right);
  m_plot = new PlotPanel(right);
  right->setSizes({520, 240});
  right->setStretchFactor(0, 3);
  right->setStretchFactor(1, 1);
  m_tokens = new vis::TokenOverlayView(left);
  left->setStretchFactor(0, 1);
  left->setStretchFactor(1, 1);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 3);
  setCentralWidget(split);

  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Export attention map..."), this, &MainWindow::exportAttention);
  file->addAction(tr("Export plot..."), this, &MainWindow::exportPlot);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);

  m_device = new QLabel(this);
  statusBar()->addPermanentWidget(m_device);
  if (instance && instance->isValid()) {
    m_device->setText(tr("Vulkan"));
    if (auto* w = m_heatmap->map()->heatmapWindow()) {
      connect(w, &vis::HeatmapWindow::frameRendered, this, [this, w] {
        if (m_device->text() == tr("Vulkan"))
          m_device->setText(tr("Vulkan: %1").arg(w->deviceName()));
      });
      connect(w, &vis::HeatmapWindow::renderError, this,
              [this](const QString& msg) { statusBar()->showMessage(msg); });
    }
  } else {
    m_device->setText(tr("Vulkan unavailable"));
  }
  connect(m_heatmap, &HeatmapView::hoverText, this,
          [this](const QString& t) { statusBar()->showMessage(t, 4000); });

  // Prompt edits restart a short debounce (DESIGN.md §5) before the views refresh.
  m_debounce = new QTimer(this);
  m_debounce->setSingleShot(true);
  m_debounce->setInterval(150);
  connect(m_debounce, &QTimer::timeout, this, &MainWindow::refresh);
  connect(m_prompt, &QPlainTextEdit::textChanged, m_debounce, qOverload<>(&QTimer::start));
  statusBar()->showMessage(tr("No model loaded: showing a synthetic test attention map"));
  resize(1280, 800);
  refresh();
}

void MainWindow::refresh() {
  const QStringList tokens = demoTokens(m_prompt->toPlainText());
  auto matrix = demoAttention(static_cast<int>(tokens.size()));
  m_heatmap->setAttention(matrix, tokens);
  m_tokens->setOverlay(demoOverlay(*matrix, tokens));
  m_plot->setCurve(rowEntropy(*matrix), tokens, tr("attention entropy (nats)"));
}

void MainWindow::exportPlot() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export plot"), QString(),
                                                    tr("Figures (*.png *.pdf *.svg)"));
  if (path.isEmpty()) return;
  QString error;
  if (!m_plot->exportTo(path, &error)) QMessageBox::warning(this, tr("Export failed"), error);
}

void MainWindow::exportAttention() {
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Export attention map"), QString(), tr("PNG (*.png)"));
  if (path.isEmpty()) return;
  QString error;
  if (!m_heatmap->exportImage(path, &error))
    QMessageBox::warning(this, tr("Export failed"), error);
  else
    statusBar()->showMessage(tr("Wrote %1").arg(path), 4000);
}

}  // namespace ll::ui
