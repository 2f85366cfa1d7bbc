// MainWindow's construction in parts: the panels and their docks, the status bar, the inputs that
// ask for a recomputation (prompt debounce, selection, panel settings) and the SessionController's
// signals (load, snapshots, progress, errors).
#include "ui/main_window.h"

#include "ui/attention_panel.h"
#include "ui/attribution_panel.h"
#include "ui/entropy_panel.h"
#include "ui/expert_contrast_panel.h"
#include "ui/flow_panel.h"
#include "ui/heatmap_view.h"
#include "ui/knockout_panel.h"
#include "ui/latent_panel.h"
#include "ui/layer_skip_panel.h"
#include "ui/lens_panel.h"
#include "ui/model_panel.h"
#include "ui/output_panel.h"
#include "ui/patching_panel.h"
#include "ui/prompt_panel.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/steering_panel.h"
#include "ui/steering_readouts_panel.h"
#include "ui/teacher_panel.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/heatmap_window.h"

#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QStatusBar>
#include <QTimer>
#include <QVulkanInstance>

namespace ll::ui {

void MainWindow::buildPanels(QVulkanInstance* instance) {
  m_model = new ModelPanel(m_selection);
  m_prompt = new PromptPanel(m_selection);
  m_attention = new AttentionPanel(m_selection, instance);
  m_selectionPanel = new SelectionPanel(m_selection);
  m_entropy = new EntropyPanel(m_selection);
  m_routing = new RoutingPanel(m_selection, instance);
  m_steering = new SteeringPanel(m_selection);
  m_output = new OutputPanel(m_selection);
  m_lens = new LensPanel(m_selection);
  m_attribution = new AttributionPanel(m_selection);
  m_layerSkip = new LayerSkipPanel(m_selection);
  m_latent = new LatentPanel(m_selection);
  m_contrast = new ExpertContrastPanel(m_selection);
  m_knockout = new KnockoutPanel(m_selection);
  m_steerRead = new SteeringReadoutsPanel(m_selection);
  m_teacher = new TeacherPanel(m_selection);
  m_flow = new FlowPanel(m_selection);
  m_patching = new PatchingPanel(m_selection);

  // The attention map is the centre of the window; everything else docks around it.
  auto* attentionDock = addPanel(m_attention, tr("Attention"), Qt::RightDockWidgetArea);
  addPanel(m_model, tr("Model"), Qt::LeftDockWidgetArea);
  auto* promptDock = addPanel(m_prompt, tr("Prompt"), Qt::LeftDockWidgetArea);
  auto* outputDock = addPanel(m_output, tr("Output"), Qt::LeftDockWidgetArea);
  auto* entropyDock = addPanel(m_entropy, tr("Entropy"), Qt::RightDockWidgetArea);
  auto* selDock = addPanel(m_selectionPanel, tr("Token selection"), Qt::RightDockWidgetArea);
  auto* routingDock = addPanel(m_routing, tr("Routing"), Qt::RightDockWidgetArea);
  auto* steeringDock = addPanel(m_steering, tr("Steering"), Qt::RightDockWidgetArea);
  auto* lensDock = addPanel(m_lens, tr("Logit lens"), Qt::RightDockWidgetArea);
  auto* attributionDock = addPanel(m_attribution, tr("Attribution"), Qt::RightDockWidgetArea);
  auto* skipDock = addPanel(m_layerSkip, tr("Layer skip"), Qt::RightDockWidgetArea);
  auto* latentDock = addPanel(m_latent, tr("Latent language"), Qt::RightDockWidgetArea);
  auto* contrastDock = addPanel(m_contrast, tr("Expert contrast"), Qt::RightDockWidgetArea);
  auto* knockoutDock = addPanel(m_knockout, tr("Knockout effect"), Qt::RightDockWidgetArea);
  auto* steerReadDock = addPanel(m_steerRead, tr("Steering readouts"), Qt::RightDockWidgetArea);
  auto* teacherDock = addPanel(m_teacher, tr("Teacher"), Qt::RightDockWidgetArea);
  auto* flowDock = addPanel(m_flow, tr("Flow routes"), Qt::RightDockWidgetArea);
  auto* patchingDock = addPanel(m_patching, tr("Patching"), Qt::RightDockWidgetArea);
  splitDockWidget(attentionDock, entropyDock, Qt::Horizontal);
  tabifyDockWidget(entropyDock, selDock);
  tabifyDockWidget(selDock, routingDock);
  tabifyDockWidget(routingDock, steeringDock);
  tabifyDockWidget(steeringDock, lensDock);
  tabifyDockWidget(lensDock, attributionDock);
  tabifyDockWidget(attributionDock, skipDock);
  tabifyDockWidget(skipDock, latentDock);
  tabifyDockWidget(latentDock, contrastDock);
  tabifyDockWidget(contrastDock, knockoutDock);
  // The contrast's one-click actions go into the routing panel's edits (and the next run).
  connect(m_contrast, &ExpertContrastPanel::editsRequested, m_routing, &RoutingPanel::addEdits);
  tabifyDockWidget(knockoutDock, steerReadDock);
  tabifyDockWidget(steerReadDock, teacherDock);
  tabifyDockWidget(teacherDock, flowDock);
  tabifyDockWidget(flowDock, patchingDock);
  // The attribution is computed only while its panel is in view: coming into view asks for it.
  connect(attributionDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
    if (visible && m_shown && !m_shown->state.attribution.enabled) requestAnalysis();
  });
  entropyDock->raise();
  tabifyDockWidget(dock(QStringLiteral("model")), outputDock);
  promptDock->raise();
}

void MainWindow::buildStatusBar(QVulkanInstance* instance) {
  m_device = new QLabel(this);
  m_busyLabel = new QLabel(this);
  m_busy = new QProgressBar(this);
  m_busy->setRange(0, 0);
  m_busy->setMaximumWidth(120);
  m_busy->setVisible(false);
  m_analysisError = new QLabel(this);
  m_analysisError->setObjectName(QStringLiteral("analysisError"));
  m_analysisError->setWordWrap(true);
  m_analysisError->setStyleSheet(QStringLiteral("color: #c0392b;"));  // as the model panel's errors
  m_analysisError->setVisible(false);
  statusBar()->addPermanentWidget(m_analysisError, 1);
  statusBar()->addPermanentWidget(m_busyLabel);
  statusBar()->addPermanentWidget(m_busy);
  statusBar()->addPermanentWidget(m_device);
  if (instance && instance->isValid()) {
    m_device->setText(tr("Vulkan"));
    if (auto* w = heatmapView()->map()->heatmapWindow()) {
      connect(w, &vis::HeatmapWindow::frameRendered, this, [this, w] {
        if (m_device->text() == tr("Vulkan"))
          m_device->setText(tr("Vulkan: %1").arg(w->deviceName()));
      });
      connect(w, &vis::HeatmapWindow::renderError, this,
              [this](const QString& msg) { statusBar()->showMessage(msg); });
    }
  } else {
    m_device->setText(tr("Vulkan unavailable: heatmaps disabled"));
  }
  connect(heatmapView(), &HeatmapView::hoverText, this,
          [this](const QString& t) { statusBar()->showMessage(t, 4000); });
  connect(m_lens, &LensPanel::hoverText, this, [this](const QString& t) {
    if (!t.isEmpty()) statusBar()->showMessage(t, 4000);
  });
}

void MainWindow::connectInputs() {
  // Prompt edits restart the debounce (DESIGN.md §5): a burst of typing runs once more when it
  // pauses. The first edit after a quiet spell (no edit within the interval) runs at once, so a
  // single keystroke never waits for the timer; the controller cancels whatever a later edit
  // makes stale. Selection and panel settings go at once.
  m_debounce = new QTimer(this);
  m_debounce->setSingleShot(true);
  m_debounce->setInterval(150);
  connect(m_debounce, &QTimer::timeout, this, [this] { requestAnalysis(); });
  connect(m_prompt, &PromptPanel::promptEdited, this, [this] {
    if (!m_debounce->isActive()) requestAnalysis();  // leading edge (stops no running timer)
    m_debounce->start();
  });
  connect(m_selection, &SelectionModel::changed, this, [this] { requestAnalysis(); });
  for (Panel* p : m_panels)
    connect(p, &Panel::settingsChanged, this, [this] { requestAnalysis(); });
  connect(m_model, &ModelPanel::openRequested, this, &MainWindow::openModel);
}

void MainWindow::connectController() {
  connect(m_controller, &SessionController::loadProgress, m_model, &ModelPanel::setProgress);
  connect(m_controller, &SessionController::modelLoaded, this, [this](const ModelInfo& info) {
    m_testPattern = false;
    m_shown.reset();
    m_stalePanels.clear();
    m_selection->setLimits(info.nLayer, info.nHead, 0);
    // Nothing of the previous model stays on screen, even where the new one has no data.
    for (Panel* p : m_panels) p->clearData();
    // The teacher is chosen where the student runs (before a pending session sets its own).
    m_teacher->setServer(info.server.isEmpty() ? std::nullopt : m_remoteTarget);
    for (Panel* p : m_panels) p->modelChanged(info);
    applyPendingSession();
    if (m_loadError) m_loadError->close();  // the failure it names no longer applies
    m_backend = info.backend;
    m_analysisError->setVisible(false);
    m_analysisError->clear();
    if (info.server.isEmpty()) {
      setWindowTitle(tr("%1 — LayerLens").arg(QFileInfo(info.path).fileName()));
      statusBar()->showMessage(tr("Loaded %1").arg(info.path), 5000);
    } else {
      setWindowTitle(
          tr("%1 on %2 (remote) — LayerLens").arg(QFileInfo(info.path).fileName(), info.server));
      statusBar()->showMessage(tr("Opened %1 on the server %2").arg(info.path, info.server), 5000);
    }
    requestAnalysis(true);
  });
  connect(m_controller, &SessionController::loadFailed, this,
          [this](const QString& path, const QString& error) {
            // A session (or demo) waiting for this model applies to no other.
            m_pendingSession.reset();
            m_pendingFront.clear();
            m_model->setError(path, error);
            showLoadError(path, error);
            statusBar()->showMessage(
                m_controller->hasModel()
                    ? tr("Could not open %1; the previous model stays loaded").arg(path)
                    : tr("Could not open %1").arg(path),
                8000);
          });
  connect(m_controller, &SessionController::snapshotReady, this, [this](const SnapshotPtr& s) {
    m_analysisError->setVisible(false);
    m_analysisError->clear();
    showSnapshot(s, false);
  });
  connect(m_controller, &SessionController::snapshotStreamed, this,
          [this](const SnapshotPtr& s) { showStreamed(s); });
  connect(m_controller, &SessionController::analysisProgress, this, [this](int done, int total) {
    if (m_controller->busy())
      m_busyLabel->setText(tr("computing: layer %1 of %2").arg(done).arg(total));
  });
  connect(m_controller, &SessionController::streamProgress, this,
          [this](StreamedOutput what, int done, int total) {
            if (what != StreamedOutput::Patching) return;
            m_patching->showProgress(done, total);
            if (m_controller->busy())
              m_busyLabel->setText(tr("patching: pass %1 of %2").arg(done).arg(total));
          });
  connect(m_controller, &SessionController::analysisFailed, this, [this](const QString& e) {
    statusBar()->showMessage(tr("Analysis failed: %1").arg(e), 8000);
    // Stays until a run succeeds: the panels keep the last result, which no longer follows the
    // prompt (a lost server says so in e).
    if (m_shown)
      m_analysisError->setText(
          tr("Analysis failed: %1 — the panels show the last result (stale).").arg(e));
    else
      m_analysisError->setText(tr("Analysis failed: %1").arg(e));
    m_analysisError->setVisible(true);
  });
  connect(m_controller, &SessionController::busyChanged, this, [this](bool busy) {
    m_busy->setVisible(busy);
    m_busyLabel->setText(busy ? tr("computing...") : QString());
  });
}

}  // namespace ll::ui
